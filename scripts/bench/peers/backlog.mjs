// Peak memory through a large backlog: `tidemark run --until-idle` (a real process, default sink
// settings, 1 s commits) drains a backlog of `--backlog-mb` MiB (default 1024) of 1 KiB records,
// from a file (file source, watch: false) and from a Kafka topic (Kafka source, stopAtEnd),
// while its peak resident set (VmHWM) is sampled from /proc. Every run is verified by counting
// the sink topic with a read_committed consumer.
//
//   npm run bench -- --peers --scenario backlog [--backlog-mb 1024] [--backlog-sources file,kafka]
//
// Lines: bench scenario=backlog-<source>-<MiB>MiB records=<n> seconds=<s> records_per_s=<x> peak_rss_mb=<y>
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import kafkajs from 'kafkajs';
import { repositoryRoot } from '../../lib/addresses.mjs';
import { sleep } from '../../lib/processes.mjs';
import { writeInput } from './input.mjs';
import { peerClasspath } from './jars.mjs';
import { perfTool } from './perf-tool.mjs';
import { verifyCommitted } from './verify.mjs';

const RECORD_BYTES = 1024;

/** Peak resident set of process `pid` in MiB (VmHWM), or null once it is gone. */
function peakRssMb(pid) {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmHWM:\s+(\d+) kB/m.exec(status);
    return match ? Number(match[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** Runs `tidemark run <yaml> --until-idle`, sampling its peak RSS; returns seconds and MiB. */
async function runSampled(yaml, log) {
  const cli = path.join(repositoryRoot, 'packages', 'cli', 'bin', 'tidemark.js');
  const output = fs.openSync(log, 'w');
  const started = performance.now();
  const child = spawn(process.execPath, [cli, 'run', yaml, '--no-lease', '--until-idle'], {
    stdio: ['ignore', output, output],
  });
  let peak = 0;
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let done = false;
  exited.then(() => {
    done = true;
  });
  while (!done) {
    peak = Math.max(peak, peakRssMb(child.pid) ?? 0);
    await sleep(100);
  }
  const { code, signal } = await exited;
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0)
    throw new Error(
      `tidemark run ended with ${code ?? signal}; see ${log}:\n${fs.readFileSync(log, 'utf8').slice(-2000)}`,
    );
  return { seconds, peak };
}

export async function backlogBench({ brokers, unique, values }) {
  const megabytes = Number(values['backlog-mb'] ?? 1024);
  const sources = String(values['backlog-sources'] ?? 'file,kafka').split(',');
  const count = Math.floor((megabytes * 1024 * 1024) / RECORD_BYTES);
  const kafka = new kafkajs.Kafka({
    clientId: 'tidemark-bench-backlog',
    brokers,
    logLevel: kafkajs.logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  const createTopic = async (prefix) => {
    const topic = unique(prefix);
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    return topic;
  };
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'tidemark-bench-backlog-'));
  const brokerList = `[${brokers.map((broker) => JSON.stringify(broker)).join(', ')}]`;
  console.log(
    `bench: node ${process.version}, ${os.cpus().length} CPUs, backlog ${megabytes} MiB = ${count} records of ${RECORD_BYTES} B`,
  );
  const lines = [];
  try {
    for (const source of sources) {
      let sourceYaml;
      if (source === 'file') {
        const input = path.join(directory, 'input');
        fs.mkdirSync(input, { recursive: true });
        writeInput(path.join(input, 'backlog.jsonl'), count, RECORD_BYTES);
        sourceYaml = `{ name: backlog, type: file, directory: ${JSON.stringify(input)}, pattern: "*.jsonl", watch: false }`;
      } else if (source === 'kafka') {
        const input = await createTopic('bench-backlog-input');
        perfTool(peerClasspath(), {
          brokers,
          topic: input,
          count,
          size: RECORD_BYTES,
          intervalMs: 1000,
          batchBytes: 512 * 1024,
          lingerMs: 5,
        });
        sourceYaml = `{ name: backlog, type: kafka, brokers: ${brokerList}, topics: [${input}], start: earliest, stopAtEnd: true }`;
      } else {
        throw new Error(`unknown backlog source '${source}' (file or kafka)`);
      }
      const topic = await createTopic(`bench-backlog-${source}`);
      const yaml = path.join(directory, `${source}.yaml`);
      fs.writeFileSync(
        yaml,
        [
          'pipelines:',
          `  - name: ${topic}`,
          `    sources: [${sourceYaml}]`,
          `    sink: { type: kafka, brokers: ${brokerList}, topic: ${topic} }`,
          '    commit: { interval: 1s }',
          '',
        ].join('\n'),
      );
      const { seconds, peak } = await runSampled(yaml, path.join(directory, `${source}.log`));
      await verifyCommitted(kafka, topic, count, unique);
      const line = `bench scenario=backlog-${source}-${megabytes}MiB records=${count} seconds=${seconds.toFixed(1)} records_per_s=${Math.round(count / seconds)} peak_rss_mb=${Math.round(peak)}`;
      lines.push(line);
      console.log(line);
      fs.rmSync(path.join(directory, 'input'), { recursive: true, force: true });
    }
  } finally {
    await admin.disconnect();
    fs.rmSync(directory, { recursive: true, force: true });
  }
  return 0;
}
