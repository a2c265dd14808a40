#!/usr/bin/env node
// Order generator for the seed-orders pipeline: JSON orders whose Kafka timestamps (the event
// time, promoted to rowtime) arrive out of order, each at most --disorder ms behind the newest
// one sent before it, so none is beyond a t-sort `within` of the same size.
//
//   node examples/seed-orders/generate-orders.mjs [--brokers 127.0.0.1:9092] [--topic orders_raw]
//        [--count 10000] [--products 20] [--interval 100] [--disorder 2000] [--start <epoch ms>]
//        [--seed 1] [--out -]
//
// --interval: mean event-time gap between orders (ms). --start: event time of the first order
// (default: now − count × interval, so the data ends about now). --out -: print JSON lines
// (`{"timestamp": …, "key": …, "value": {…}}`) instead of producing to Kafka. Same --seed, same
// orders. The topic is created with one partition when missing: the t-sort bound applies to the
// merged read order, and one partition keeps that order the topic's own (docs/windows.md).
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

/**
 * The orders, in send order: `{ timestamp, key, value }` with `timestamp` the event time (the
 * Kafka timestamp). Event times grow by a random gap (mean `interval`, equal times allowed);
 * each order is sent at its event time plus a random delay of at most `disorder`, so every order
 * is within `disorder` of the newest event time sent before it. Pure: the same options (and
 * seed) give the same orders. Exported for tests and chaos scenarios.
 */
export function generateOrders({ count, products, interval, disorder, start, seed = 1 }) {
  // A linear congruential generator: seeded, so a seed reproduces the same orders.
  let state = seed >>> 0;
  const random = () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 4_294_967_296;
  };
  let eventTime = start;
  const orders = [];
  for (let index = 0; index < count; index += 1) {
    eventTime += Math.floor(random() * 2 * interval);
    const productId = 1 + Math.floor(random() * products);
    orders.push({
      sendAt: eventTime + Math.floor(random() * (disorder + 1)),
      timestamp: eventTime,
      key: String(productId),
      value: {
        order_id: index + 1,
        item_id: 1 + Math.floor(random() * 1_000),
        item_price: (100 + Math.floor(random() * 99_900)) / 100,
        item_quantity: 1 + Math.floor(random() * 10),
        product_id: productId,
        message_timestamp: new Date(eventTime).toISOString(),
      },
    });
  }
  orders.sort((a, b) => a.sendAt - b.sendAt || a.value.order_id - b.value.order_id);
  return orders.map(({ timestamp, key, value }) => ({ timestamp, key, value }));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();

async function main() {
  const { values: options } = parseArgs({
    options: {
      brokers: { type: 'string', default: process.env.TIDEMARK_KAFKA_BROKERS ?? '127.0.0.1:9092' },
      topic: { type: 'string', default: 'orders_raw' },
      count: { type: 'string', default: '10000' },
      products: { type: 'string', default: '20' },
      interval: { type: 'string', default: '100' },
      disorder: { type: 'string', default: '2000' },
      start: { type: 'string' },
      seed: { type: 'string', default: '1' },
      out: { type: 'string' },
    },
  });
  const positiveInteger = (name) => {
    const value = Number(options[name]);
    if (!Number.isInteger(value) || value <= 0) fail(`--${name} must be a positive integer`);
    return value;
  };
  const count = positiveInteger('count');
  const interval = positiveInteger('interval');
  const disorder = Number(options.disorder);
  if (!Number.isInteger(disorder) || disorder < 0) fail('--disorder must be a non-negative integer (ms)');
  const start = options.start === undefined ? Date.now() - count * interval : Number(options.start);
  if (!Number.isInteger(start) || start < 0) fail('--start must be epoch milliseconds');
  const orders = generateOrders({
    count,
    products: positiveInteger('products'),
    interval,
    disorder,
    start,
    seed: Number(options.seed),
  });
  if (options.out === '-') {
    for (const order of orders) process.stdout.write(`${JSON.stringify(order)}\n`);
    return;
  }
  await produce(orders, options.brokers.split(','), options.topic);
  const first = new Date(start).toISOString();
  console.log(
    `sent ${orders.length} orders to ${options.topic} (event time from ${first}, disorder ≤ ${disorder} ms)`,
  );
}

async function produce(orders, brokers, topic) {
  const { Kafka, logLevel } = await import('kafkajs');
  const kafka = new Kafka({ clientId: 'seed-orders-generator', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
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
  } finally {
    await producer.disconnect();
  }
}

function fail(message) {
  console.error(`generate-orders: ${message}`);
  process.exit(2);
}
