#!/usr/bin/env node
// Prints every committed record of a topic (isolation read_committed), then exits.
import { Kafka, logLevel } from 'kafkajs';

const topic = process.argv[2];
if (!topic) {
  console.error('usage: show-topic.mjs <topic>');
  process.exit(2);
}
const brokers = (process.env.TIDEMARK_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const kafka = new Kafka({ clientId: 'tidemark-quickstart', brokers, logLevel: logLevel.NOTHING });

const admin = kafka.admin();
await admin.connect();
const ends = await admin.fetchTopicOffsets(topic);
await admin.disconnect();
const remaining = new Map(
  ends.filter((end) => Number(end.high) > Number(end.low)).map((end) => [end.partition, BigInt(end.high)]),
);

const consumer = kafka.consumer({
  groupId: `tidemark-show-${process.pid}-${Date.now()}`,
  readUncommitted: false,
  maxWaitTimeInMs: 200,
});
await consumer.connect();
await consumer.subscribe({ topic, fromBeginning: true });
let count = 0;
let idleTimer;
const done = new Promise((resolve) => {
  if (remaining.size === 0) resolve();
  // A partition may end in transaction markers only: stop after 3 s without a record too.
  const idle = () => {
    clearTimeout(idleTimer);
    idleTimer = setTimeout(resolve, 3_000);
  };
  consumer.on(consumer.events.GROUP_JOIN, idle);
  consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      idle();
      for (const message of batch.messages) {
        count += 1;
        const header = message.headers?.['tidemark.p'] ?? message.headers?.['tidemark.provenance'];
        const provenance = header?.toString('utf8').replaceAll('\t', ' | ') ?? '';
        console.log(
          `  ${topic}/${batch.partition}@${message.offset}  ${message.value?.toString('utf8')}  provenance ${provenance}`,
        );
      }
      // The last offset before the end may be a transaction marker: stop once the batch reaches it.
      if (BigInt(batch.highWatermark) - 1n <= BigInt(batch.lastOffset()) + 1n)
        remaining.delete(batch.partition);
      if (remaining.size === 0) resolve();
    },
  });
});
await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 20_000))]);
clearTimeout(idleTimer);
await consumer.disconnect();
console.log(`  ${count} committed record(s) in ${topic}`);
process.exit(0);
