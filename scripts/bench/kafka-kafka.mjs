// Bench case kafka-kafka: Tidemark's exactly-once Kafka → Kafka pipeline (bounded Kafka source →
// transactional Kafka sink, 1 s commits) with the source on each client library, over the same
// pre-filled input topic of 1 KiB records. The sink stays on its default client, so the figures
// differ only by the source's client. Rounds interleave the variants (rotating who goes first);
// each figure is the median over the rounds, counted from open to the last commit.
//
//   npm run bench -- --scenario kafka-kafka [--records 300000] [--repeat 3] [--clients platformatic,kafkajs]
//
// Per client other than the first-listed peer:
//   bench scenario=<name> records_per_s=<x> baseline=<peer> baseline_per_s=<y> ratio=<x/y>
import os from 'node:os';
import { Pipeline } from '@tidemark/core';
import { Kafka, logLevel } from 'kafkajs';
import { createTopic, deleteTopic, median, unique } from './file-kafka.mjs';

const brokers = (process.env.TIDEMARK_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const SIZE = 1024;
const PARTITIONS = 3;
const INTERVAL_MS = 1_000;
const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

/** Fills `topic` with `count` JSON records of SIZE bytes, spread over its partitions. */
async function fill(topic, count) {
  const kafka = new Kafka({ clientId: 'tidemark-bench', brokers, logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ idempotent: true });
  await producer.connect();
  for (let start = 0; start < count; start += 500) {
    const messages = [];
    for (let index = start; index < Math.min(count, start + 500); index += 1) {
      const prefix = `{"id":${index},"pad":"`;
      const value = `${prefix}${'x'.repeat(SIZE - prefix.length - 2)}"}`;
      messages.push({ partition: index % PARTITIONS, value });
    }
    await producer.send({ topic, messages });
  }
  await producer.disconnect();
}

/** One run: the input topic read to its end with the source on `client`; returns records/s. */
async function run(input, count, client) {
  const [{ default: kafkaSource }, { default: kafkaSink }] = await Promise.all([
    import('@tidemark/source-kafka'),
    import('@tidemark/sink-kafka'),
  ]);
  const output = unique('bench-kk-out');
  await createTopic(output, PARTITIONS);
  const context = (name) => ({ name, logger: silent, signal: new AbortController().signal });
  const source = kafkaSource.create(
    kafkaSource.configSchema.parse({
      brokers,
      topics: [input],
      client,
      stopAtEnd: true,
      clientId: 'tidemark-bench',
    }),
    context('input'),
  );
  const sink = kafkaSink.create(
    kafkaSink.configSchema.parse({ brokers, topic: output, clientId: 'tidemark-bench' }),
    context('sink'),
  );
  const pipeline = new Pipeline({
    id: unique('bench-kk'),
    sources: [source],
    sink,
    logger: silent,
    commit: { maxWallMs: INTERVAL_MS, maxRecords: 1_000_000, maxBytes: 256 * 1024 * 1024 },
  });
  const started = performance.now();
  const { status } = await pipeline.run();
  const seconds = (performance.now() - started) / 1000;
  await deleteTopic(output);
  if (status.recordsOut < count)
    throw new Error(`pipeline delivered ${status.recordsOut} of ${count} records`);
  if (status.recordsOut > count)
    console.error(
      `  note: source on ${client}: ${status.recordsOut - count} records re-sent after a recovery`,
    );
  return count / seconds;
}

export async function kafkaKafkaBench(values) {
  const repeat = Math.max(1, Number(values.repeat ?? 3));
  const count = values.records ? Number(values.records) : 300_000;
  const clients = (values.clients ?? 'platformatic,kafkajs').split(',').filter((client) => client.length > 0);
  console.log(
    `bench: node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, brokers ${brokers}, ` +
      `Kafka → Kafka exactly-once, ${count} records of ${SIZE} B over ${PARTITIONS} partitions, ` +
      `commit ${INTERVAL_MS} ms, median of ${repeat} interleaved rounds`,
  );
  const input = unique('bench-kk-in');
  await createTopic(input, PARTITIONS);
  await fill(input, count);
  const runs = new Map(clients.map((client) => [client, []]));
  try {
    for (let round = 0; round < repeat; round += 1) {
      for (let index = 0; index < clients.length; index += 1) {
        const client = clients[(index + round) % clients.length];
        runs.get(client).push(await run(input, count, client));
      }
    }
  } finally {
    await deleteTopic(input);
  }
  const medians = new Map([...runs].map(([client, figures]) => [client, median(figures)]));
  console.log(
    `  runs (rec/s): ${[...runs].map(([client, figures]) => `${client} ${figures.map(Math.round).join('/')}`).join(', ')}`,
  );
  const [peer, ...others] = clients;
  for (const client of others.length > 0 ? others : [peer]) {
    const [ours, theirs] = [medians.get(peer), medians.get(client)];
    console.log(
      `bench scenario=kafka-kafka-${SIZE}B-commit-${INTERVAL_MS}ms-source-${peer} records_per_s=${Math.round(ours)} ` +
        `baseline=source-${client} baseline_per_s=${Math.round(theirs)} ratio=${(ours / theirs).toFixed(2)}`,
    );
  }
  return 0;
}
