import { randomUUID } from 'node:crypto';
import { createKafka, KAFKA_CLIENTS } from '@tidemark/kafka';
import { describeSourceConformance } from '@tidemark/sdk/testing';
import { afterAll, beforeAll } from 'vitest';
import { defaultBrokers } from './config.js';
import kafkaSource from './index.js';

const brokers = defaultBrokers();
// Made by the project's factory, which stops kafkajs's idle connections from re-arming a 1 ms
// timer forever: such a timer of this test's own producer would count as a handle the source
// leaked (the platformatic client never loads kafkajs, so nothing else applies the fix).
const kafka = createKafka(
  { brokers, clientId: 'source-kafka-conformance', ssl: false, sasl: undefined },
  { connectTimeoutMs: 10_000, requestTimeoutMs: 30_000 },
);
const admin = kafka.admin();
// One producer per case: a kafkajs producer keeps refreshing the metadata of every topic it
// ever wrote to, and fails once a previous case's topic is deleted.
let producer = kafka.producer();
let topic = '';
let produced = 0;

beforeAll(async () => {
  await admin.connect();
});

afterAll(async () => {
  await admin.disconnect();
});

// Both client libraries pass the same suite.
for (const client of KAFKA_CLIENTS) {
  describeSourceConformance({
    title: `source conformance: kafka (client: ${client})`,
    connector: kafkaSource,
    config: () => ({ brokers, topics: [topic], fetchMaxWaitMs: 100, client }),
    setup: async () => {
      topic = `tm-src-conformance-${randomUUID().slice(0, 8)}`;
      produced = 0;
      await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
      producer = kafka.producer({ allowAutoTopicCreation: false });
      await producer.connect();
    },
    cleanup: async () => {
      await producer.disconnect();
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    },
    produce: async (count) => {
      const ids = Array.from({ length: count }, () => `id-${produced++}`);
      await producer.send({
        topic,
        messages: ids.map((id, index) => ({ partition: index % 2, key: id, value: id })),
      });
      return ids;
    },
    idOf: (record) => Buffer.from(record.value ?? new Uint8Array()).toString('utf8'),
    badConfig: { topics: ['a'], topicPattern: 'b', startOffset: -1 },
    // kafkajs finishes its in-flight requests' timers after disconnect; on a loaded machine that
    // can take longer than the kit's default 2 s. A timer still alive after 5 s is a leak.
    settleMs: 5_000,
  });
}
