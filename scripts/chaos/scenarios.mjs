// The chaos scenarios. Each returns { kills, records, duplicates, lost, disorder, notes? }.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bounceBroker } from './broker.mjs';
import {
  brokers,
  CommittedReader,
  createTopic,
  kafka,
  killLoop,
  locateInLog,
  PipelineProcess,
  random,
  sleep,
  uniqueName,
  verify,
} from './harness.mjs';
import { filePostgres } from './scenarios/file-postgres.mjs';
import { kafkaPostgres } from './scenarios/kafka-postgres.mjs';

const DEMO_SERVER = fileURLToPath(
  new URL('../../examples/custom-source/dist/demo-server.js', import.meta.url),
);
const COMMIT = { maxWallMs: 300, maxRecords: 2_000 };

/** The Kafka sink of a scenario; `client` picks the client library (default: the sink's default). */
function sinkSpec(topic, client) {
  const options = { brokers, topic, clientId: 'tidemark-chaos' };
  if (client !== undefined) options.client = client;
  return { package: '@tidemark/sink-kafka', options };
}

/** The file source every file scenario tails: the feeder's rotating JSON-lines files in `directory`. */
export function fileSourceSpec(directory) {
  return {
    name: 'logs',
    package: '@tidemark/source-file',
    options: {
      directory,
      pattern: '*.log*',
      order: 'mtime',
      format: 'jsonl',
      watch: true,
      pollIntervalMs: 100,
    },
  };
}

/** The first and last of a list of ids, for trace lines. */
const span = (ids) => (ids.length === 0 ? 'nothing' : `${ids[0]}..${ids.at(-1)}`);

/** Appends JSON lines to a few files, rotating (rename), truncating and deleting as it goes. */
export class FileFeeder {
  /** `trace`, when given, is told of every rotation, truncation and deletion (with the ids involved). */
  constructor(directory, rng, reader, trace = undefined) {
    this.directory = directory;
    this.rng = rng;
    this.reader = reader;
    this.trace = trace;
    this.expected = [];
    this.streams = ['a', 'b', 'c'].map((name) => ({
      name,
      gen: 0,
      seq: 0,
      rotations: 0,
      ids: [],
      partial: '',
      truncatePending: false,
    }));
    this.rotated = [];
    this.stats = { rotations: 0, truncations: 0, deletions: 0 };
    this.running = false;
  }

  file(stream) {
    return path.join(this.directory, `${stream.name}.log`);
  }

  committedIds() {
    return new Set(this.reader.records.map((record) => record.id));
  }

  writeLines(stream, count) {
    let text = stream.partial;
    stream.partial = '';
    for (let index = 0; index < count; index += 1) {
      stream.seq += 1;
      const record = {
        id: `${stream.name}-${stream.seq}`,
        stream: `${stream.name}/${stream.gen}`,
        seq: stream.seq,
      };
      this.expected.push(record);
      stream.ids.push(record.id);
      text += `${JSON.stringify(record)}\n`;
    }
    // Sometimes hold back the tail of the last line: the source must never emit a partial line.
    if (this.rng() < 0.3 && text.length > 10) {
      const cut = text.length - this.rng.between(1, 8);
      stream.partial = text.slice(cut);
      text = text.slice(0, cut);
    }
    fs.appendFileSync(this.file(stream), text);
  }

  /** Rename rotation: the old file keeps a name the glob matches, a new file takes its place. */
  rotate(stream) {
    if (stream.partial) this.flushPartial(stream);
    stream.rotations += 1;
    const rotatedName = path.join(
      this.directory,
      `${stream.name}.log.${String(stream.rotations).padStart(4, '0')}`,
    );
    fs.renameSync(this.file(stream), rotatedName);
    this.trace?.(`feeder: ${stream.name}.log -> ${path.basename(rotatedName)} holding ${span(stream.ids)}`);
    this.rotated.push({ path: rotatedName, ids: stream.ids });
    stream.ids = [];
    stream.gen += 1;
    fs.writeFileSync(this.file(stream), '');
    this.stats.rotations += 1;
  }

  /**
   * Truncation in place. Writing to the stream pauses until everything in the file is
   * committed (truncating uncommitted lines would be the user throwing data away).
   */
  truncateWhenCommitted(stream) {
    if (stream.partial) this.flushPartial(stream);
    stream.truncatePending = true;
  }

  truncatePending() {
    const committed = this.committedIds();
    for (const stream of this.streams) {
      if (!stream.truncatePending || !stream.ids.every((id) => committed.has(id))) continue;
      fs.truncateSync(this.file(stream), 0);
      this.trace?.(`feeder: ${stream.name}.log truncated (held ${span(stream.ids)}, all committed)`);
      stream.truncatePending = false;
      stream.ids = [];
      stream.gen += 1;
      this.stats.truncations += 1;
    }
  }

  /** Deletes rotated files whose lines are all committed; their inodes may be reused. */
  deleteCommitted() {
    const committed = this.committedIds();
    this.rotated = this.rotated.filter((entry) => {
      if (!entry.ids.every((id) => committed.has(id))) return true;
      fs.rmSync(entry.path, { force: true });
      this.trace?.(`feeder: ${path.basename(entry.path)} deleted (held ${span(entry.ids)}, all committed)`);
      this.stats.deletions += 1;
      return false;
    });
  }

  flushPartial(stream) {
    fs.appendFileSync(this.file(stream), stream.partial);
    stream.partial = '';
  }

  start() {
    this.running = true;
    for (const stream of this.streams) fs.writeFileSync(this.file(stream), '');
    this.done = (async () => {
      while (this.running) {
        const stream = this.streams[this.rng.between(0, this.streams.length - 1)];
        this.truncatePending();
        if (!stream.truncatePending) {
          this.writeLines(stream, this.rng.between(1, 25));
          const roll = this.rng();
          if (roll < 0.02) this.rotate(stream);
          else if (roll < 0.03) this.truncateWhenCommitted(stream);
          else if (roll < 0.05) this.deleteCommitted();
        }
        await sleep(this.rng.between(5, 40));
      }
      for (const stream of this.streams) if (stream.partial) this.flushPartial(stream);
    })();
  }

  async stop() {
    this.running = false;
    await this.done;
  }
}

/** Produces `{ id, stream, seq }` records into every partition of a topic. */
export class TopicFeeder {
  constructor(topic, partitions, rng) {
    this.topic = topic;
    this.partitions = partitions;
    this.rng = rng;
    this.expected = [];
    this.seq = new Array(partitions).fill(0);
    this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    this.running = false;
    this.paused = null;
  }

  /** Waits for the send under way, then holds feeding until `resume()`. */
  async pause() {
    let release;
    const gate = new Promise((resolve) => {
      release = resolve;
    });
    const parked = new Promise((resolve) => {
      this.paused = { gate, release, parked: resolve };
    });
    await parked;
  }

  resume() {
    const paused = this.paused;
    this.paused = null;
    paused?.release();
  }

  async start() {
    await this.producer.connect();
    this.running = true;
    this.done = (async () => {
      while (this.running) {
        if (this.paused) {
          this.paused.parked();
          await this.paused.gate;
          continue;
        }
        const partition = this.rng.between(0, this.partitions - 1);
        const messages = [];
        const batch = [];
        const count = this.rng.between(1, 40);
        for (let index = 0; index < count; index += 1) {
          this.seq[partition] += 1;
          const record = {
            id: `p${partition}-${this.seq[partition]}`,
            stream: `p${partition}`,
            seq: this.seq[partition],
          };
          messages.push({ key: record.id, value: JSON.stringify(record), partition });
          batch.push(record);
        }
        await this.producer.send({ topic: this.topic, messages });
        for (const record of batch) this.expected.push(record);
        await sleep(this.rng.between(5, 40));
      }
    })();
  }

  async stop() {
    this.running = false;
    await this.done;
    await this.producer.disconnect();
  }
}

/** Runs a scenario's common tail: stop feeding, let the pipeline catch up, stop it, verify. */
export async function finish({ feeder, reader, current, log, kills, notes }) {
  await feeder.stop();
  log(`feeding stopped: ${feeder.expected.length} source records; waiting for the pipeline to commit them`);
  await reader.waitFor(new Set(feeder.expected.map((record) => record.id)).size, { progress: log });
  const code = await current.stop();
  if (code !== 0) log(`last pipeline exited with ${code}: ${current.stderrTail.slice(-5).join(' | ')}`);
  await reader.waitFor(0, { settleMs: 1_500 });
  await reader.stop();
  const { lostIds, ...verdict } = verify(feeder.expected, reader.records);
  if (lostIds.length > 0) await locateInLog(reader.topic, lostIds, log);
  return { kills, ...verdict, notes };
}

export async function fileKafka({ kills, seed, log, client }) {
  const rng = random(seed);
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'tidemark-chaos-file-'));
  const sinkTopic = uniqueName('chaos-file-out');
  await createTopic(sinkTopic, 1);
  const reader = new CommittedReader(sinkTopic);
  await reader.start();
  const feeder = new FileFeeder(
    directory,
    rng,
    reader,
    process.env.TIDEMARK_CHAOS_VERBOSE === '1' ? log : undefined,
  );
  feeder.start();
  const pipelineId = uniqueName('chaos-file');
  const spec = {
    pipelineId,
    sources: [fileSourceSpec(directory)],
    sink: sinkSpec(sinkTopic, client),
    commit: COMMIT,
  };
  const current = await killLoop({ kills, rng, log, spawnPipeline: () => new PipelineProcess(spec, log) });
  const { rotations, truncations, deletions } = feeder.stats;
  const result = await finish({
    feeder,
    reader,
    current,
    log,
    kills,
    notes: `rotations=${rotations} truncations=${truncations} deletions=${deletions}`,
  });
  fs.rmSync(directory, { recursive: true, force: true });
  return result;
}

export async function kafkaPipelineSetup(prefix, seed, partitions = 3) {
  const rng = random(seed);
  const inputTopic = uniqueName(`${prefix}-in`);
  const sinkTopic = uniqueName(`${prefix}-out`);
  await createTopic(inputTopic, partitions);
  await createTopic(sinkTopic, 1);
  const reader = new CommittedReader(sinkTopic);
  await reader.start();
  const feeder = new TopicFeeder(inputTopic, partitions, rng);
  await feeder.start();
  const spec = {
    pipelineId: uniqueName(prefix),
    sources: [
      {
        name: 'input',
        package: '@tidemark/source-kafka',
        options: { brokers, topics: [inputTopic], start: 'earliest' },
      },
    ],
    sink: sinkSpec(sinkTopic),
    commit: COMMIT,
  };
  return { rng, reader, feeder, spec };
}

async function kafkaKafka({ kills, seed, log }) {
  const { rng, reader, feeder, spec } = await kafkaPipelineSetup('chaos-kk', seed);
  const current = await killLoop({ kills, rng, log, spawnPipeline: () => new PipelineProcess(spec, log) });
  return finish({ feeder, reader, current, log, kills });
}

/**
 * A second instance with the same pipeline id starts while the first still runs: the first
 * must be fenced (exit code 3) and nothing may be duplicated. Every few rounds the survivor is
 * also SIGKILLed. `kills` counts instance replacements (fencings) plus SIGKILLs.
 */
async function zombie({ kills, seed, log }) {
  const { rng, reader, feeder, spec } = await kafkaPipelineSetup('chaos-zombie', seed);
  let current = new PipelineProcess(spec, log);
  let fenced = 0;
  let killed = 0;
  for (let round = 1; round <= kills; round += 1) {
    await sleep(rng.between(800, 2_500));
    if (round % 3 === 0) {
      await current.kill('SIGKILL');
      killed += 1;
      current = new PipelineProcess(spec, log);
      continue;
    }
    const newer = new PipelineProcess(spec, log);
    const outcome = await Promise.race([current.exited, sleep(20_000).then(() => 'still running')]);
    if (outcome === 3) fenced += 1;
    else {
      await current.kill('SIGKILL');
      await newer.kill('SIGKILL');
      throw new Error(
        `the older instance was not fenced (outcome: ${outcome}):\n${current.stderrTail.join('\n')}`,
      );
    }
    current = newer;
  }
  return finish({ feeder, reader, current, log, kills, notes: `fenced=${fenced} sigkills=${killed}` });
}

/**
 * The Kafka broker itself is SIGKILLed and restarted while the pipeline runs; the pipeline is
 * SIGKILLed too, between bounces. The feeder pauses during the outage so that what the source
 * holds is known exactly.
 */
async function brokerBounce({ kills, seed, log }) {
  const { rng, reader, feeder, spec } = await kafkaPipelineSetup('chaos-bounce', seed);
  let bounces = 0;
  let current = new PipelineProcess(spec, log);
  for (let kill = 1; kill <= kills; kill += 1) {
    await sleep(rng.between(500, 2_000));
    if (kill % 2 === 1) {
      await feeder.pause();
      await bounceBroker(log, rng.between(200, 2_000));
      feeder.resume();
      bounces += 1;
      await sleep(rng.between(500, 3_000));
    }
    if (!current.alive) {
      throw new Error(
        `pipeline exited by itself with ${await current.exited}:\n${current.stderrTail.join('\n')}`,
      );
    }
    await current.kill('SIGKILL');
    current = new PipelineProcess(spec, log);
  }
  return finish({ feeder, reader, current, log, kills, notes: `broker_bounces=${bounces}` });
}

/** Feeds the example plugin's append-only HTTP log server (examples/custom-source). */
class HttpLogFeeder {
  constructor(appendUrl, rng) {
    this.appendUrl = appendUrl;
    this.rng = rng;
    this.expected = [];
    this.seq = 0;
  }

  start() {
    this.running = true;
    this.done = (async () => {
      while (this.running) {
        const items = [];
        for (let index = this.rng.between(1, 30); index > 0; index -= 1) {
          this.seq += 1;
          items.push({ id: `h-${this.seq}`, stream: 'log', seq: this.seq });
        }
        const response = await fetch(this.appendUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ items }),
        });
        if (!response.ok) throw new Error(`append failed: ${response.status} ${await response.text()}`);
        this.expected.push(...items);
        await sleep(this.rng.between(5, 40));
      }
    })();
  }

  async stop() {
    this.running = false;
    await this.done;
  }
}

/** A third-party plugin (the example http-log source, loaded by package name) into Kafka. */
async function customKafka({ kills, seed, log }) {
  const rng = random(seed);
  const server = spawn(process.execPath, [DEMO_SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const { url, appendUrl } = await new Promise((resolve, reject) => {
    server.once('exit', (code) => reject(new Error(`demo log server exited with ${code}`)));
    server.stdout.setEncoding('utf8');
    server.stdout.once('data', (line) => resolve(JSON.parse(line)));
  });
  try {
    const sinkTopic = uniqueName('chaos-custom-out');
    await createTopic(sinkTopic, 1);
    const reader = new CommittedReader(sinkTopic);
    await reader.start();
    const feeder = new HttpLogFeeder(appendUrl, rng);
    feeder.start();
    const spec = {
      pipelineId: uniqueName('chaos-custom'),
      sources: [
        {
          name: 'http',
          package: '@tidemark/example-custom-source',
          options: { url, pollIntervalMs: 100, pageSize: 500 },
        },
      ],
      sink: sinkSpec(sinkTopic),
      commit: COMMIT,
    };
    const current = await killLoop({ kills, rng, log, spawnPipeline: () => new PipelineProcess(spec, log) });
    return await finish({ feeder, reader, current, log, kills });
  } finally {
    server.kill('SIGTERM');
  }
}

export const SCENARIOS = {
  'file-kafka': fileKafka,
  'file-kafka-kafkajs': (options) =>
    import('./scenarios/file-kafka-kafkajs.mjs').then((file) => file.default(options)),
  'kafka-kafka': kafkaKafka,
  zombie,
  'broker-bounce': brokerBounce,
  'custom-kafka': customKafka,
  'kinesis-kafka': (await import('./scenarios/kinesis-kafka.mjs')).kinesisKafka,
  'amqp-stream-kafka': (await import('./scenarios/amqp-stream-kafka.mjs')).amqpStreamKafka,
  'amqp-queue-kafka': (await import('./scenarios/amqp-queue-kafka.mjs')).amqpQueueKafka,
  'rdbms-kafka': (options) => import('./scenarios/rdbms-kafka.mjs').then((file) => file.default(options)),
  'mysql-kafka': (options) => import('./scenarios/mysql-kafka.mjs').then((file) => file.default(options)),
  'file-postgres': filePostgres,
  'kafka-postgres': kafkaPostgres,
  'mqtt-kafka': (options) => import('./scenarios/mqtt-kafka.mjs').then((module) => module.mqttKafka(options)),
  'orders-window': (options) =>
    import('./scenarios/orders-window.mjs').then((file) => file.ordersWindow(options)),
  'standby-failover': (options) =>
    import('./scenarios/standby-failover.mjs').then((module) => module.standbyFailover(options)),
  'scale-out': (options) => import('./scenarios/scale-out.mjs').then((module) => module.scaleOut(options)),
};
