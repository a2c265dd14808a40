import { randomUUID } from 'node:crypto';
import { KAFKA_CLIENTS } from '@tidemark/kafka';
import type { TidemarkRecord } from '@tidemark/sdk';
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultBrokers, kafkaSourceConfigSchema } from './config.js';
import kafkaSource from './index.js';
import { createKafkaSource } from './kafka-source.js';

const { Kafka, logLevel } = kafkajs;
const brokers = defaultBrokers();
const kafka = new Kafka({ brokers, clientId: 'source-kafka-split-test', logLevel: logLevel.NOTHING });
const admin = kafka.admin();
const producer = kafka.producer({ allowAutoTopicCreation: false });

beforeAll(async () => {
  await admin.connect();
  await producer.connect();
});

afterAll(async () => {
  await producer.disconnect();
  await admin.disconnect();
});

describe.each(KAFKA_CLIENTS)('Kafka source split into tasks (against the broker, client: %s)', (client) => {
  it('reads partition p only in task p % n, from the committed watermark of that task', async () => {
    const topic = `tm-src-split-${randomUUID().slice(0, 8)}`;
    await admin.createTopics({ topics: [{ topic, numPartitions: 5 }], waitForLeaders: true });
    const messages = [];
    for (let partition = 0; partition < 5; partition += 1)
      for (let index = 0; index < 4; index += 1)
        messages.push({ partition, value: `p${partition}-${index}` });
    await producer.send({ topic, messages });

    const configs = kafkaSource.split!(
      kafkaSourceConfigSchema.parse({
        brokers,
        topics: [topic],
        stopAtEnd: true,
        fetchMaxWaitMs: 200,
        client,
      }),
      2,
    ).map((config) => config!);
    expect(kafkaSource.taskOfUnit!(`${topic}/3`, 2)).toBe(1);
    const perTask: string[][] = [];
    for (const [index, config] of configs.entries()) {
      const source = createKafkaSource(config, 'orders');
      // Task 0 resumes partition 2 after its first two records; task 1 starts fresh.
      await source.open(index === 0 ? { [`${topic}/2`]: '2' } : null);
      const records: TidemarkRecord[] = [];
      const deadline = Date.now() + 20_000;
      for (;;) {
        if (Date.now() > deadline) throw new Error('timed out');
        const batch = await source.read({
          signal: new AbortController().signal,
          maxRecords: 1_000,
          maxBytes: 1 << 20,
          maxWaitMs: 200,
        });
        records.push(...batch.records);
        if (batch.end) break;
      }
      await source.close();
      perTask.push(records.map((record) => Buffer.from(record.value ?? []).toString('utf8')).sort());
    }
    const partitionsOf = (values: string[]) =>
      [...new Set(values.map((value) => value.split('-')[0]))].sort();
    expect(partitionsOf(perTask[0]!)).toEqual(['p0', 'p2', 'p4']);
    expect(partitionsOf(perTask[1]!)).toEqual(['p1', 'p3']);
    expect(perTask[0]).toHaveLength(4 + 2 + 4);
    expect(perTask[0]).not.toContain('p2-1');
    expect(perTask[0]).toContain('p2-2');
    expect(perTask[1]).toHaveLength(8);
  }, 60_000);
});
