// `npm run bench -- --peers`: Tidemark's exactly-once file → Kafka against its peers on the same
// broker, in the same run, interleaved (one round runs every system once), median of the rounds:
//   connect-eos-default  Kafka Connect FileStreamSource, exactly.once.support=required, one
//                        distributed worker, producer defaults
//   connect-eos-tuned    the same with Tidemark's request size (batch.size 512 KiB, linger.ms 5)
//   perf-tool-txn        Kafka's producer perf tool, transactional, the same request size
// `--scenario kafka-kafka`: Tidemark's exactly-once Kafka → Kafka (Kafka source → Kafka sink,
// defaults) against perf-tool-txn writing the same number of records of the same size.
// Every run writes a fresh topic and is verified by counting it with a read_committed consumer.
// Lines: bench scenario=<name> records_per_s=<x> baseline=<peer> baseline_per_s=<y> ratio=<x/y>
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Pipeline } from '@tidemark/core';
import kafkajs from 'kafkajs';
import { sleep } from '../../lib/processes.mjs';
import { startConnectWorker } from './connect.mjs';
import { writeInput } from './input.mjs';
import { peerClasspath } from './jars.mjs';
import { perfTool } from './perf-tool.mjs';
import { verifyCommitted } from './verify.mjs';

const BATCH_BYTES = 512 * 1024;
const LINGER_MS = 5;
const silent = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, child: () => silent };
const unique = (prefix) => `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}`;
const median = (numbers) => [...numbers].sort((a, b) => a - b)[Math.floor(numbers.length / 2)];

/**
 * `--scenario` picks what runs: file-kafka (the default: throughput against the peers),
 * kafka-kafka (Kafka → Kafka against the perf tool's transactional ceiling, 1 KiB by default),
 * latency (append → visible in read_committed at 100 ms and 1 s commits), recovery (SIGKILL →
 * first new commit), backlog (peak RSS through a 1 GiB backlog), or all.
 */
export async function peersBench(values) {
  const brokers = (process.env.TIDEMARK_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
  const scenario = values.scenario ?? 'file-kafka';
  if (scenario === 'latency' || scenario === 'recovery' || scenario === 'all') {
    const { latencyBench, recoveryBench } = await import('./latency.mjs');
    const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'tidemark-bench-latency-'));
    try {
      if (scenario !== 'recovery') await latencyBench({ brokers, directory, unique });
      if (scenario !== 'latency') await recoveryBench({ brokers, directory, unique });
    } finally {
      fs.rmSync(directory, { recursive: true, force: true });
    }
    if (scenario !== 'all') return 0;
  }
  if (scenario === 'backlog')
    return (await import('./backlog.mjs')).backlogBench({ brokers, unique, values });
  if (scenario === 'kafka-kafka') return throughput(brokers, values, 'kafka-kafka');
  return throughput(brokers, values, 'file-kafka');
}

async function throughput(brokers, { records, repeat = '3', commitMs = '1000', sizes = '100,1024' }, kind) {
  const kafka = new kafkajs.Kafka({
    clientId: 'tidemark-bench-peers',
    brokers,
    logLevel: kafkajs.logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  const rounds = Math.max(3, Number(repeat));
  const intervalMs = Number(commitMs);
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'tidemark-bench-peers-'));
  const jvm = peerClasspath();
  console.log(
    `bench: node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, brokers ${brokers}, ${rounds} rounds, commits every ${intervalMs} ms`,
  );

  const createTopic = async (prefix) => {
    const topic = unique(prefix);
    await admin.createTopics({
      topics: [{ topic, numPartitions: 1, replicationFactor: 1 }],
      waitForLeaders: true,
    });
    return topic;
  };
  /** Last stable offset of partition 0 (read_committed ListOffsets): records plus commit markers. */
  const stableOffset = async (topic) => Number((await admin.fetchTopicOffsets(topic))[0]?.offset ?? 0);
  const waitStable = async (topic, count, limitMs = 300_000) => {
    const deadline = Date.now() + limitMs;
    while ((await stableOffset(topic)) < count) {
      if (Date.now() > deadline)
        throw new Error(`${topic}: fewer than ${count} records committed after ${limitMs} ms`);
      await sleep(50);
    }
  };
  const verify = (topic, count) => verifyCommitted(kafka, topic, count, unique);

  const worker =
    kind === 'kafka-kafka'
      ? { stop: async () => undefined }
      : await startConnectWorker(jvm, {
          brokers,
          directory: path.join(directory, 'connect'),
          port: 18083 + Math.floor(Math.random() * 500),
          unique,
        });
  const lines = [];
  try {
    for (const size of sizes.split(',').map(Number)) {
      const count = records ? Number(records) : size <= 100 ? 300_000 : 100_000;
      const input = path.join(directory, `input-${size}`);
      fs.mkdirSync(input, { recursive: true });
      const file = path.join(input, 'input.jsonl');
      writeInput(file, count, size);

      // Kafka → Kafka reads one pre-filled topic (the perf tool, transactional) in every round.
      let inputTopic;
      if (kind === 'kafka-kafka') {
        inputTopic = await createTopic('bench-peers-input');
        perfTool(jvm, {
          brokers,
          topic: inputTopic,
          count,
          size: size - 1,
          intervalMs,
          batchBytes: BATCH_BYTES,
          lingerMs: LINGER_MS,
        });
        await verify(inputTopic, count);
      }
      const systems = {
        tidemark: async () => {
          const topic = await createTopic('bench-peers-tidemark');
          const seconds =
            kind === 'kafka-kafka'
              ? await tidemark({ brokers, topic, source: 'kafka', input: inputTopic, count, intervalMs })
              : await tidemark({ brokers, topic, source: 'file', input, count, intervalMs });
          return { topic, perSecond: count / seconds };
        },
        'connect-eos-default': async () => {
          const topic = await createTopic('bench-peers-connect');
          const { seconds } = await worker.run({
            file,
            topic,
            intervalMs,
            producer: {},
            visible: () => waitStable(topic, count),
          });
          return { topic, perSecond: count / seconds };
        },
        'connect-eos-tuned': async () => {
          const topic = await createTopic('bench-peers-connect-tuned');
          const producer = {
            'batch.size': BATCH_BYTES,
            'linger.ms': LINGER_MS,
            'max.request.size': 2 * BATCH_BYTES,
          };
          const { seconds } = await worker.run({
            file,
            topic,
            intervalMs,
            producer,
            visible: () => waitStable(topic, count),
          });
          return { topic, perSecond: count / seconds };
        },
        'perf-tool-txn': async () => {
          const topic = await createTopic('bench-peers-perf');
          const { perSecond } = perfTool(jvm, {
            brokers,
            topic,
            count,
            size: size - 1,
            intervalMs,
            batchBytes: BATCH_BYTES,
            lingerMs: LINGER_MS,
          });
          return { topic, perSecond };
        },
      };
      if (kind === 'kafka-kafka') {
        delete systems['connect-eos-default'];
        delete systems['connect-eos-tuned'];
      }
      const results = Object.fromEntries(Object.keys(systems).map((name) => [name, []]));
      // Each round runs every system once, the order rotated so that no system always goes first.
      const entries = Object.entries(systems);
      for (let round = 0; round < rounds; round += 1) {
        const order = [...entries.slice(round % entries.length), ...entries.slice(0, round % entries.length)];
        for (const [name, run] of order) {
          const { topic, perSecond } = await run();
          await verify(topic, count);
          results[name].push(perSecond);
          console.log(
            `  size=${size} round=${round + 1} ${name} records_per_s=${Math.round(perSecond)} (verified ${count} read_committed)`,
          );
        }
      }
      const ours = median(results.tidemark);
      for (const peer of Object.keys(systems).filter((name) => name !== 'tidemark')) {
        const theirs = median(results[peer]);
        const line = `bench scenario=${kind}-${size}B-${intervalMs}ms records_per_s=${Math.round(ours)} baseline=${peer} baseline_per_s=${Math.round(theirs)} ratio=${(ours / theirs).toFixed(2)}`;
        lines.push(line);
        console.log(line);
      }
    }
  } finally {
    await worker.stop();
    await admin.disconnect();
    fs.rmSync(directory, { recursive: true, force: true });
  }
  return 0;
}

/**
 * Tidemark in this process: a bounded source → the transactional Kafka sink (defaults), commits
 * every `intervalMs`. `source` is `file` (the JSON lines under directory `input`) or `kafka`
 * (topic `input`, read to the end offsets seen at open). Returns seconds.
 */
async function tidemark({ brokers, topic, source, input, count, intervalMs }) {
  const [{ default: sourceConnector }, { default: kafkaSink }] = await Promise.all([
    import(source === 'kafka' ? '@tidemark/source-kafka' : '@tidemark/source-file'),
    import('@tidemark/sink-kafka'),
  ]);
  const sourceConfig =
    source === 'kafka'
      ? { brokers, topics: [input], start: 'earliest', stopAtEnd: true }
      : { directory: input, pattern: '*.jsonl', format: 'lines', watch: false };
  const context = (name) => ({ name, logger: silent, signal: new AbortController().signal });
  const pipeline = new Pipeline({
    id: unique('bench-peers'),
    sources: [sourceConnector.create(sourceConnector.configSchema.parse(sourceConfig), context(source))],
    sink: kafkaSink.create(
      kafkaSink.configSchema.parse({ brokers, topic, clientId: 'tidemark-bench-peers' }),
      context('sink'),
    ),
    commit: { maxWallMs: intervalMs, maxRecords: 10_000_000, maxBytes: 1024 * 1024 * 1024 },
  });
  const started = performance.now();
  const { status } = await pipeline.run();
  const seconds = (performance.now() - started) / 1000;
  if (status.recordsOut !== count)
    throw new Error(`tidemark delivered ${status.recordsOut} of ${count} records`);
  return seconds;
}
