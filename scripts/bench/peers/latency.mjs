// Latency from append to visible in read_committed: a tailing file → Kafka pipeline in this
// process, lines appended at a steady rate with their append time, a read_committed consumer
// taking the difference. And recovery: a `tidemark run` process SIGKILLed, restarted at once,
// timed from the kill to the first record of the new process visible in read_committed.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Pipeline } from '@tidemark/core';
import kafkajs from 'kafkajs';
import { repositoryRoot } from '../../lib/addresses.mjs';
import { sleep } from '../../lib/processes.mjs';

const silent = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, child: () => silent };
const percentile = (sorted, fraction) =>
  sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))];

/** A read_committed consumer of `topic` calling `onValue(text)` for each record. Returns its stop. */
async function follow(kafka, topic, onValue) {
  const consumer = kafka.consumer({
    groupId: `${topic}-reader`,
    readUncommitted: false,
    maxWaitTimeInMs: 20,
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => onValue(message.value?.toString('utf8') ?? '') });
  return () => consumer.disconnect();
}

async function createTopic(kafka, topic) {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  await admin.disconnect();
}

/** p50/p99 of append → visible at each commit interval; `seconds` of appends at `perSecond`. */
export async function latencyBench({
  brokers,
  directory,
  unique,
  intervals = [100, 1000],
  seconds = 10,
  perSecond = 500,
}) {
  const kafka = new kafkajs.Kafka({
    clientId: 'tidemark-bench-latency',
    brokers,
    logLevel: kafkajs.logLevel.NOTHING,
  });
  const [{ default: fileSource }, { default: kafkaSink }] = await Promise.all([
    import('@tidemark/source-file'),
    import('@tidemark/sink-kafka'),
  ]);
  const lines = [];
  for (const intervalMs of intervals) {
    const topic = unique('bench-latency');
    await createTopic(kafka, topic);
    const input = path.join(directory, topic);
    fs.mkdirSync(input, { recursive: true });
    const file = path.join(input, 'live.log');
    fs.writeFileSync(file, '');
    const context = (name) => ({ name, logger: silent, signal: new AbortController().signal });
    const pipeline = new Pipeline({
      id: topic,
      sources: [
        fileSource.create(
          fileSource.configSchema.parse({
            directory: input,
            pattern: '*.log',
            format: 'lines',
            watch: true,
            pollIntervalMs: 50,
          }),
          context('file'),
        ),
      ],
      sink: kafkaSink.create(kafkaSink.configSchema.parse({ brokers, topic }), context('sink')),
      commit: { maxWallMs: intervalMs, maxRecords: 1_000_000, maxBytes: 256 * 1024 * 1024 },
    });
    const running = pipeline.run();
    const latencies = [];
    const stop = await follow(kafka, topic, (text) => {
      const sent = Number(JSON.parse(text).t);
      latencies.push(Date.now() - sent);
    });
    await sleep(2_000);
    const total = seconds * perSecond;
    const started = Date.now();
    for (let index = 0; index < total; index += 1) {
      const due = started + (index * 1000) / perSecond;
      if (due > Date.now()) await sleep(due - Date.now());
      fs.appendFileSync(file, `${JSON.stringify({ i: index, t: Date.now() })}\n`);
    }
    const deadline = Date.now() + 10_000 + intervalMs * 3;
    while (latencies.length < total && Date.now() < deadline) await sleep(50);
    pipeline.stop();
    await running;
    await stop();
    if (latencies.length !== total)
      throw new Error(`${topic}: read_committed shows ${latencies.length} of ${total} appended lines`);
    latencies.sort((a, b) => a - b);
    const line = `bench scenario=latency-append-to-visible commit_ms=${intervalMs} records=${total} p50_ms=${percentile(latencies, 0.5)} p99_ms=${percentile(latencies, 0.99)}`;
    lines.push(line);
    console.log(line);
  }
  return lines;
}

/** Kill → first new record visible, `kills` times, for a `tidemark run` of a tailing file pipeline. */
export async function recoveryBench({ brokers, directory, unique, kills = 5, intervalMs = 1000 }) {
  const kafka = new kafkajs.Kafka({
    clientId: 'tidemark-bench-recovery',
    brokers,
    logLevel: kafkajs.logLevel.NOTHING,
  });
  const topic = unique('bench-recovery');
  await createTopic(kafka, topic);
  const input = path.join(directory, topic);
  fs.mkdirSync(input, { recursive: true });
  const file = path.join(input, 'live.log');
  fs.writeFileSync(file, '');
  const yaml = path.join(directory, `${topic}.yaml`);
  fs.writeFileSync(
    yaml,
    [
      'pipelines:',
      `  - name: ${topic}`,
      '    sources:',
      '      - name: live',
      '        type: file',
      `        directory: ${input}`,
      '        pattern: "*.log"',
      '        pollIntervalMs: 50',
      '    sink:',
      '      type: kafka',
      `      brokers: [${brokers.map((broker) => JSON.stringify(broker)).join(', ')}]`,
      `      topic: ${topic}`,
      '    commit:',
      `      interval: ${intervalMs}ms`,
    ].join('\n'),
  );
  const cli = path.join(repositoryRoot, 'packages', 'cli', 'bin', 'tidemark.js');
  const log = path.join(directory, `${topic}.log`);
  const start = () => {
    const output = fs.openSync(log, 'a');
    return spawn(process.execPath, [cli, 'run', yaml, '--no-lease'], { stdio: ['ignore', output, output] });
  };
  const exited = (process_) =>
    process_.exitCode !== null || process_.signalCode !== null
      ? Promise.resolve()
      : new Promise((resolve) => process_.once('exit', resolve));
  const alive = (process_) => {
    if (process_.exitCode !== null)
      throw new Error(
        `tidemark run exited (${process_.exitCode}); see ${log}:\n${fs.readFileSync(log, 'utf8').slice(-2000)}`,
      );
  };
  let appended = 0;
  const appender = setInterval(() => {
    fs.appendFileSync(file, `${JSON.stringify({ i: appended, t: Date.now() })}\n`);
    appended += 1;
  }, 5);
  let lastSeen = 0;
  let seenAt = 0;
  const seen = new Set();
  let duplicates = 0;
  const stop = await follow(kafka, topic, (text) => {
    const { i } = JSON.parse(text);
    if (seen.has(i)) duplicates += 1;
    seen.add(i);
    lastSeen = Math.max(lastSeen, i);
    seenAt = Date.now();
  });
  const recoveries = [];
  let child = start();
  try {
    await sleep(6_000);
    for (let kill = 0; kill < kills; kill += 1) {
      alive(child);
      const killedAt = Date.now();
      child.kill('SIGKILL');
      await exited(child);
      const appendedAtKill = appended;
      child = start();
      const deadline = Date.now() + 60_000;
      // The first record appended after the kill can only come from the new process.
      while (lastSeen < appendedAtKill && Date.now() < deadline) {
        alive(child);
        await sleep(10);
      }
      if (lastSeen < appendedAtKill) throw new Error('no new commit within 60 s of a restart');
      recoveries.push(seenAt - killedAt);
      await sleep(3_000);
    }
  } finally {
    clearInterval(appender);
    await sleep(intervalMs * 3 + 2_000);
    child.kill('SIGTERM');
    await exited(child);
    await stop();
  }
  const lost = appended - seen.size;
  recoveries.sort((a, b) => a - b);
  const line = `bench scenario=recovery-kill-to-first-commit commit_ms=${intervalMs} kills=${kills} p50_ms=${percentile(recoveries, 0.5)} max_ms=${recoveries.at(-1)} records=${appended} duplicates=${duplicates} lost=${lost}`;
  console.log(line);
  return [line];
}
