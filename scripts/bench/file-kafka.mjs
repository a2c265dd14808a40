// file → Kafka: Tidemark's exactly-once pipeline (bounded file source → transactional Kafka
// sink) on each client library, against two raw idempotent producers writing the same records
// to the same broker in requests of the same size (1,000 records or 512 KiB): kafkajs 2.2.4 and
// @platformatic/kafka. Every variant of a case runs once per round, rounds interleave the
// variants (rotating who goes first), and each figure is the median over the rounds.
//
//   npm run bench -- [--repeat 3] [--case 100:1000] [--sizes 100,1024] [--intervals 100,1000]
//                    [--provenance-headers none,compact,json] [--clients platformatic,kafkajs]
//                    [--records N] [--json results.json]
//
// Per case, client and baseline:
//   bench scenario=<name> records_per_s=<x> baseline=<peer> baseline_per_s=<y> ratio=<x/y>
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Producer } from '@platformatic/kafka';
import { Pipeline } from '@tidemark/core';
import { Kafka, logLevel } from 'kafkajs';

const brokers = (process.env.TIDEMARK_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const kafka = new Kafka({ clientId: 'tidemark-bench', brokers, logLevel: logLevel.NOTHING });
const SEND_BATCH_BYTES = 512 * 1024;
const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };
// TIDEMARK_BENCH_LOG=1 prints the pipeline's warnings and errors (a retried commit, a recovery).
const warnings = {
  debug() {},
  info() {},
  warn: (fields, message) => console.error('warn', message ?? '', JSON.stringify(fields)),
  error: (fields, message) => console.error('error', message ?? '', JSON.stringify(fields)),
  child: () => warnings,
};
const logger = process.env.TIDEMARK_BENCH_LOG ? warnings : silent;
export const unique = (prefix) =>
  `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}`;
const list = (text) => text.split(',').filter((item) => item.length > 0);

/** Creates a topic (one partition by default); a broker still electing its leader is asked again. */
export async function createTopic(topic, numPartitions = 1) {
  for (let attempt = 1; ; attempt += 1) {
    const admin = kafka.admin();
    try {
      await admin.connect();
      await admin.createTopics({
        topics: [{ topic, numPartitions, replicationFactor: 1 }],
        waitForLeaders: true,
      });
      return;
    } catch (error) {
      if (attempt >= 5) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
    } finally {
      await admin.disconnect();
    }
  }
}

export async function deleteTopic(topic) {
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
}

/** Writes `count` JSON lines of `size` bytes each (newline included); returns the lines as Buffers. */
export function makeInput(directory, count, size) {
  const lines = [];
  const texts = [];
  for (let index = 0; index < count; index += 1) {
    const prefix = `{"id":${index},"pad":"`;
    const text = `${prefix}${'x'.repeat(Math.max(0, size - 1 - prefix.length - 2))}"}`;
    lines.push(Buffer.from(text));
    texts.push(text);
  }
  fs.writeFileSync(path.join(directory, 'input.jsonl'), `${texts.join('\n')}\n`);
  return lines;
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Records per request, as the sink batches them. */
function perSend(lines, sendBatch) {
  return Math.max(1, Math.min(sendBatch, Math.floor(SEND_BATCH_BYTES / lines[0].length)));
}

/** The raw kafkajs idempotent producer, one request in flight. */
async function rawKafkajs(lines, sendBatch) {
  const topic = unique('bench-raw-kafkajs');
  await createTopic(topic);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const started = performance.now();
  const step = perSend(lines, sendBatch);
  for (let offset = 0; offset < lines.length; offset += step) {
    const messages = lines.slice(offset, offset + step).map((value) => ({ key: null, value }));
    await producer.send({ topic, acks: -1, messages });
  }
  const seconds = (performance.now() - started) / 1000;
  await producer.disconnect();
  await deleteTopic(topic);
  return lines.length / seconds;
}

/** The raw @platformatic/kafka idempotent producer (its one request in flight per connection). */
async function rawPlatformatic(lines, sendBatch) {
  const topic = unique('bench-raw-platformatic');
  await createTopic(topic);
  const producer = new Producer({
    clientId: 'tidemark-bench',
    bootstrapBrokers: brokers,
    idempotent: true,
    retryDelay: 20,
  });
  const started = performance.now();
  const step = perSend(lines, sendBatch);
  for (let offset = 0; offset < lines.length; offset += step) {
    const messages = lines.slice(offset, offset + step).map((value) => ({ topic, value }));
    await producer.send({ messages });
  }
  const seconds = (performance.now() - started) / 1000;
  await producer.close();
  await deleteTopic(topic);
  return lines.length / seconds;
}

/** Tidemark: bounded file source → transactional Kafka sink on `client`, committing every `intervalMs`. */
export async function tidemark({ directory, count, intervalMs, provenanceHeaders, client, sendBatch }) {
  const [{ default: fileSource }, { default: kafkaSink }] = await Promise.all([
    import('@tidemark/source-file'),
    import('@tidemark/sink-kafka'),
  ]);
  const topic = unique('bench-tidemark');
  await createTopic(topic);
  const context = (name) => ({ name, logger, signal: new AbortController().signal });
  const source = fileSource.create(
    fileSource.configSchema.parse({ directory, pattern: '*.jsonl', format: 'lines', watch: false }),
    context('bench-file'),
  );
  const sink = kafkaSink.create(
    kafkaSink.configSchema.parse({
      brokers,
      topic,
      client,
      clientId: 'tidemark-bench',
      provenanceHeaders,
      batch: { maxRecords: sendBatch, maxBytes: SEND_BATCH_BYTES },
    }),
    context('sink'),
  );
  const pipeline = new Pipeline({
    id: unique('bench'),
    sources: [source],
    sink,
    logger,
    commit: { maxWallMs: intervalMs, maxRecords: 1_000_000, maxBytes: 256 * 1024 * 1024 },
  });
  const started = performance.now();
  const { status } = await pipeline.run();
  const seconds = (performance.now() - started) / 1000;
  if (status.recordsOut < count)
    throw new Error(`pipeline delivered ${status.recordsOut} of ${count} records`);
  // More: a transaction was aborted and its records sent again after a recovery (the time counts).
  if (status.recordsOut > count) {
    console.error(
      `  note: ${client}/${provenanceHeaders}: ${status.recordsOut - count} records re-sent after a recovery`,
    );
  }
  await deleteTopic(topic);
  return count / seconds;
}

export async function fileKafkaBench(values) {
  const repeat = Math.max(1, Number(values.repeat ?? 3));
  const sendBatch = values['send-batch'] ? Number(values['send-batch']) : 1_000;
  const modes = list(values['provenance-headers'] ?? 'none,compact');
  const clients = list(values.clients ?? 'platformatic,kafkajs');
  const sizes = list(values.sizes ?? '100,1024').map(Number);
  const intervals = list(values.intervals ?? '100,1000').map(Number);
  const cases = [];
  for (const size of sizes) for (const intervalMs of intervals) cases.push({ size, intervalMs });
  const selected = values.case
    ? cases.filter(({ size, intervalMs }) => `${size}:${intervalMs}` === values.case)
    : cases;
  console.log(
    `bench: node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, brokers ${brokers}, ` +
      `median of ${repeat} interleaved rounds`,
  );
  const results = [];
  for (const { size, intervalMs } of selected) {
    const count = values.records ? Number(values.records) : size >= 1024 ? 100_000 : 300_000;
    const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'tidemark-bench-'));
    const lines = makeInput(directory, count, size);
    const variants = [
      { name: 'kafkajs-producer', run: () => rawKafkajs(lines, sendBatch) },
      { name: 'platformatic-producer', run: () => rawPlatformatic(lines, sendBatch) },
    ];
    for (const client of clients) {
      for (const provenanceHeaders of modes) {
        variants.push({
          name: `tidemark-${client}-${provenanceHeaders}`,
          client,
          provenanceHeaders,
          run: () => tidemark({ directory, count, intervalMs, provenanceHeaders, client, sendBatch }),
        });
      }
    }
    const runs = new Map(variants.map((variant) => [variant.name, []]));
    for (let round = 0; round < repeat; round += 1) {
      for (let index = 0; index < variants.length; index += 1) {
        const variant = variants[(index + round) % variants.length];
        runs.get(variant.name).push(await variant.run());
      }
    }
    fs.rmSync(directory, { recursive: true, force: true });
    const medians = new Map([...runs].map(([name, values]) => [name, median(values)]));
    const baselines = ['kafkajs-producer', 'platformatic-producer'];
    console.log(
      `  ${size} B, commit ${intervalMs} ms, ${count} records: ` +
        [...medians].map(([name, value]) => `${name} ${Math.round(value)}`).join(', ') +
        ' rec/s (medians)',
    );
    for (const variant of variants.filter((entry) => entry.client)) {
      const ours = medians.get(variant.name);
      const name = `file-kafka-${size}B-commit-${intervalMs}ms-provenance-${variant.provenanceHeaders}-client-${variant.client}`;
      for (const baseline of baselines) {
        const theirs = medians.get(baseline);
        console.log(
          `bench scenario=${name} records_per_s=${Math.round(ours)} baseline=${baseline} ` +
            `baseline_per_s=${Math.round(theirs)} ratio=${(ours / theirs).toFixed(2)}`,
        );
      }
      results.push({
        size,
        intervalMs,
        client: variant.client,
        provenanceHeaders: variant.provenanceHeaders,
        recordsPerSecond: Math.round(ours),
        runs: runs.get(variant.name).map(Math.round),
      });
    }
    for (const baseline of baselines) {
      results.push({ size, intervalMs, baseline, recordsPerSecond: Math.round(medians.get(baseline)) });
    }
  }
  if (values.json) fs.writeFileSync(values.json, `${JSON.stringify(results, null, 2)}\n`);
  return 0;
}
