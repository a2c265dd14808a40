// Throughput of an exactly-once RabbitMQ → Kafka pipeline (source-amqp → sink-kafka) against a
// raw amqplib consumer draining the same messages from the same broker, measured in the same
// run, interleaved (baseline, pipeline, baseline, …), median of --repeat runs (at least 3).
//
//   npm run bench -- --scenario amqp-kafka [--records N] [--repeat 3] [--case quorum|stream]
//
// Each run publishes the records (persistent, with confirms, not timed) to a fresh queue of the
// case's type; the baseline consumes them with manual acknowledgements and the same prefetch;
// the pipeline commits every `prefetch / 2` records (a transaction never holds more than
// `prefetch` on a quorum queue). Both are timed from the first message received to the last
// one acknowledged (baseline) or committed (pipeline): connection and sink setup are excluded.
// Last line per case:
//   bench scenario=<name> records_per_s=<x> baseline=<peer> baseline_per_s=<y> ratio=<x/y>
import { Pipeline } from '@tidemark/core';
import amqplib from 'amqplib';
import { createTopic } from '../chaos/harness.mjs';

const BROKER_URL = process.env.TIDEMARK_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const brokers = (process.env.TIDEMARK_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
// The source's prefetch and the pipeline's commit.maxRecords: half the window commits while the
// broker refills the other half (the setting docs/connectors/amqp.md recommends).
const PREFETCH = 10_000;
const COMMIT_RECORDS = PREFETCH / 2;
const SIZE = 100;
const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };
const unique = (prefix) => `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}`;

async function publish(channel, queueType, count) {
  const queue = unique(`bench-amqp-${queueType}`);
  await channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': queueType } });
  for (let index = 0; index < count; index += 1) {
    const prefix = `{"id":${index},"pad":"`;
    const body = `${prefix}${'x'.repeat(Math.max(0, SIZE - prefix.length - 2))}"}`;
    if (!channel.sendToQueue(queue, Buffer.from(body), { persistent: true, messageId: String(index) })) {
      await new Promise((resolve) => channel.once('drain', resolve));
    }
    if (index % 5_000 === 4_999) await channel.waitForConfirms();
  }
  await channel.waitForConfirms();
  return queue;
}

/** The raw amqplib consumer: same prefetch, acknowledges every 100 messages (multiple). */
async function baseline(queue, queueType, count) {
  const connection = await amqplib.connect(BROKER_URL);
  const channel = await connection.createChannel();
  await channel.prefetch(PREFETCH);
  let received = 0;
  let started = 0;
  await new Promise((resolve) => {
    channel.consume(
      queue,
      (message) => {
        if (received === 0) started = performance.now();
        received += 1;
        if (received % 100 === 0 || received === count) channel.ack(message, true);
        if (received === count) resolve();
      },
      { noAck: false, ...(queueType === 'stream' ? { arguments: { 'x-stream-offset': 'first' } } : {}) },
    );
  });
  const seconds = (performance.now() - started) / 1000;
  await connection.close();
  return count / seconds;
}

/** The pipeline, timed from its first read record until the last record is committed. */
async function tidemark(queue, queueType, count) {
  const [{ default: amqpSource }, { default: kafkaSink }] = await Promise.all([
    import('@tidemark/source-amqp'),
    import('@tidemark/sink-kafka'),
  ]);
  const topic = unique('bench-amqp-out');
  await createTopic(topic, 1);
  const context = (name) => ({ name, logger: silent, signal: new AbortController().signal });
  const source = amqpSource.create(
    amqpSource.configSchema.parse({ url: BROKER_URL, queues: [queue], queueType, prefetch: PREFETCH }),
    context('bench-amqp'),
  );
  const sink = kafkaSink.create(
    kafkaSink.configSchema.parse({ brokers, topic, clientId: 'tidemark-bench', provenanceHeaders: 'none' }),
    context('sink'),
  );
  let committed = 0;
  let started = 0;
  let finished = 0;
  const pipeline = new Pipeline({
    id: unique('bench-amqp'),
    sources: [source],
    sink,
    commit: { maxWallMs: 1_000, maxRecords: COMMIT_RECORDS, maxBytes: 256 * 1024 * 1024 },
    batch: { maxRecords: PREFETCH },
    stopWhenSourcesEnd: false,
    observer: {
      onRead: () => {
        if (started === 0) started = performance.now();
      },
      onCommit: ({ records }) => {
        committed += records;
        if (committed < count) return;
        finished = performance.now();
        pipeline.stop();
      },
    },
  });
  const { status } = await pipeline.run();
  const seconds = (finished - started) / 1000;
  if (status.recordsOut !== count)
    throw new Error(`pipeline delivered ${status.recordsOut} of ${count} records`);
  return count / seconds;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** Runs the amqp-kafka cases; `values` are run.mjs's parsed options. */
export async function run(values) {
  const repeat = Math.max(3, Number(values.repeat ?? 3));
  const count = values.records ? Number(values.records) : 50_000;
  const kinds = values.case ? [values.case] : ['quorum', 'stream'];
  const connection = await amqplib.connect(BROKER_URL);
  const channel = await connection.createConfirmChannel();
  try {
    for (const queueType of kinds) {
      const ours = [];
      const raw = [];
      for (let index = 0; index < repeat; index += 1) {
        const rawQueue = await publish(channel, queueType, count);
        raw.push(await baseline(rawQueue, queueType, count));
        await channel.deleteQueue(rawQueue);
        const queue = await publish(channel, queueType, count);
        ours.push(await tidemark(queue, queueType, count));
        await channel.deleteQueue(queue);
      }
      const name = `amqp-kafka-${queueType}-${SIZE}B-prefetch-${PREFETCH}`;
      const x = median(ours);
      const y = median(raw);
      console.log(
        `  ${name}: ${count} records × ${repeat}; tidemark ${ours.map(Math.round).join(', ')} rec/s; raw amqplib ${raw.map(Math.round).join(', ')} rec/s`,
      );
      console.log(
        `bench scenario=${name} records_per_s=${Math.round(x)} baseline=amqplib-consumer baseline_per_s=${Math.round(y)} ratio=${(x / y).toFixed(2)}`,
      );
    }
  } finally {
    await connection.close();
  }
}
