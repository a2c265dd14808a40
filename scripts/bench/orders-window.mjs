// Bench case orders-window: the seed-orders pipeline (Kafka orders → rowtime = Kafka timestamp →
// t-sort within 2 s → one-hour sliding SUM(price × quantity) per product → transactional Kafka
// sink) against the same pipeline without the window stage (t-sort only), over the same orders
// in the same topic, measured in the same run: rounds alternate which goes first; the figures
// are the medians over the rounds. Commits every second (no rowtime span), so the ratio is the
// cost of the window stage inside a real pipeline.
//
//   npm run bench -- --scenario orders-window [--records 50000] [--repeat 3]
//
// Last line: bench scenario=orders-window records_per_s=<x> baseline=tsort-only baseline_per_s=<y> ratio=<x/y>
import { Pipeline, stagesSpecOf, tsortConfigSchema, windowConfigSchema } from '@tidemark/core';
import { Kafka, logLevel } from 'kafkajs';
import { generateOrders } from '../../examples/seed-orders/generate-orders.mjs';
import { previewRows } from '../../examples/seed-orders/preview.mjs';

const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };
const unique = (prefix) => `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}`;
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const TSORT = tsortConfigSchema.parse({ within: '2s' });
const WINDOW = windowConfigSchema.parse({
  range: '1h',
  partitionBy: 'product_id',
  aggregates: { quantitySoldLastHour: 'sum(item_price * item_quantity)' },
});

async function createTopic(kafka, topic) {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  await admin.disconnect();
}

async function produce(kafka, topic, orders) {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  for (let offset = 0; offset < orders.length; offset += 1_000) {
    await producer.send({
      topic,
      acks: -1,
      messages: orders.slice(offset, offset + 1_000).map((order) => ({
        key: order.key,
        value: JSON.stringify(order.value),
        timestamp: String(order.timestamp),
      })),
    });
  }
  await producer.disconnect();
}

/** One pipeline over the whole input topic, until `expected` rows are committed; records/s. */
async function drain({ kafka, brokers, input, stages, expected }) {
  const [{ default: kafkaSource }, { default: kafkaSink }] = await Promise.all([
    import('@tidemark/source-kafka'),
    import('@tidemark/sink-kafka'),
  ]);
  const output = unique('bench-orders-out');
  await createTopic(kafka, output);
  const context = (name) => ({ name, logger: silent, signal: new AbortController().signal });
  const source = kafkaSource.create(
    kafkaSource.configSchema.parse({ brokers, topics: [input], start: 'earliest' }),
    context('orders'),
  );
  const sink = kafkaSink.create(
    kafkaSink.configSchema.parse({
      brokers,
      topic: output,
      clientId: 'tidemark-bench',
      provenanceHeaders: 'none',
    }),
    context('sink'),
  );
  const pipeline = new Pipeline({
    id: unique('bench-orders'),
    sources: [source],
    sink,
    rowtime: { from: 'provenance', column: 'kafka.timestamp', format: 'auto' },
    stages,
    commit: { maxWallMs: 1_000, maxRecords: 50_000 },
    observer: {
      onCommit: () => {
        if (pipeline.status().recordsOut >= expected) pipeline.stop();
      },
    },
  });
  const started = performance.now();
  const { status } = await pipeline.run();
  const seconds = (performance.now() - started) / 1000;
  if (status.recordsOut !== expected)
    throw new Error(`pipeline wrote ${status.recordsOut} of ${expected} rows`);
  return expected / seconds;
}

export async function ordersWindowBench(values) {
  const brokers = (process.env.TIDEMARK_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
  const count = values.records ? Number(values.records) : 50_000;
  const rounds = Math.max(3, Number(values.repeat ?? 3));
  const kafka = new Kafka({ clientId: 'tidemark-bench', brokers, logLevel: logLevel.NOTHING });
  const orders = generateOrders({
    count,
    products: 50,
    interval: 100,
    disorder: 2_000,
    start: Date.now() - count * 100,
    seed: 1,
  });
  // The t-sort holds the last 2 s of rowtime of an unbounded input: both sides write this many.
  const expected = previewRows(orders, { flush: false }).rows.length;
  const input = unique('bench-orders-in');
  await createTopic(kafka, input);
  await produce(kafka, input, orders);
  const windowed = [];
  const baseline = [];
  for (let round = 0; round < rounds; round += 1) {
    const runs = [
      async () =>
        windowed.push(
          await drain({
            kafka,
            brokers,
            input,
            stages: stagesSpecOf({ tsort: TSORT, window: WINDOW }),
            expected,
          }),
        ),
      async () =>
        baseline.push(
          await drain({ kafka, brokers, input, stages: stagesSpecOf({ tsort: TSORT }), expected }),
        ),
    ];
    if (round % 2 === 1) runs.reverse();
    for (const run of runs) await run();
    console.log(
      `  round ${round + 1}: window ${Math.round(windowed.at(-1))} rows/s, tsort only ${Math.round(baseline.at(-1))} rows/s`,
    );
  }
  const x = median(windowed);
  const y = median(baseline);
  console.log(
    `bench scenario=orders-window records_per_s=${Math.round(x)} baseline=tsort-only baseline_per_s=${Math.round(y)} ratio=${(x / y).toFixed(2)}`,
  );
  return 0;
}
