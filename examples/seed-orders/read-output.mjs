#!/usr/bin/env node
// Prints what the seed-orders pipeline committed to its output topic: a read_committed consumer
// from the beginning, one line per row (`<rowtime ISO> key=<product> <value JSON>`), until no
// message arrived for --idle ms.
//
//   node examples/seed-orders/read-output.mjs [--brokers 127.0.0.1:9092] [--topic orders_output] [--idle 3000]
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';

const { values: options } = parseArgs({
  options: {
    brokers: { type: 'string', default: process.env.TIDEMARK_KAFKA_BROKERS ?? '127.0.0.1:9092' },
    topic: { type: 'string', default: process.env.SEED_ORDERS_OUTPUT ?? 'orders_output' },
    idle: { type: 'string', default: '3000' },
  },
});
const kafka = new Kafka({
  clientId: 'seed-orders-reader',
  brokers: options.brokers.split(','),
  logLevel: logLevel.NOTHING,
});
const consumer = kafka.consumer({ groupId: `seed-orders-reader-${Date.now()}`, readUncommitted: false });
await consumer.connect();
await consumer.subscribe({ topic: options.topic, fromBeginning: true });
let lastMessageAt = Date.now();
let rows = 0;
await consumer.run({
  eachMessage: async ({ message }) => {
    lastMessageAt = Date.now();
    rows += 1;
    const rowtime = new Date(Number(message.timestamp)).toISOString();
    process.stdout.write(`${rowtime} key=${message.key?.toString()} ${message.value?.toString()}\n`);
  },
});
while (Date.now() - lastMessageAt < Number(options.idle))
  await new Promise((resolve) => setTimeout(resolve, 200));
await consumer.disconnect();
console.error(`${rows} rows in ${options.topic}`);
