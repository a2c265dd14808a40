import { randomUUID } from 'node:crypto';
import { silentLogger } from '@tidemark/sdk';
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultBrokers, kafkaSourceConfigSchema } from './config.js';
import type { FetchedBatch, FetchHandlers, TopicPartition } from './kafka-client.js';
import { PlatformaticClient } from './platformatic-client.js';

const brokers = defaultBrokers();
const kafka = new kafkajs.Kafka({
  brokers,
  clientId: 'source-kafka-fetch-test',
  logLevel: kafkajs.logLevel.NOTHING,
});
const admin = kafka.admin();
const producer = kafka.producer({ allowAutoTopicCreation: false });

beforeAll(() => Promise.all([admin.connect(), producer.connect()]));
afterAll(() => Promise.all([producer.disconnect(), admin.disconnect()]));

async function topicWith(partitions: number, perPartition: number, from = 0): Promise<string> {
  const topic = `tm-src-fetch-${randomUUID().slice(0, 8)}`;
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  await produce(topic, partitions, perPartition, from);
  return topic;
}

async function produce(topic: string, partitions: number, perPartition: number, from = 0): Promise<void> {
  const messages = [];
  for (let partition = 0; partition < partitions; partition += 1)
    for (let index = from; index < from + perPartition; index += 1)
      messages.push({ partition, value: `${index}` });
  await producer.send({ topic, messages });
}

/** Handlers that record every call; positions from `start` (partition → next offset). */
function recorder(start: Record<number, string> = {}) {
  const calls = {
    assigned: [] as TopicPartition[][],
    batches: [] as FetchedBatch[],
    progress: new Map<number, string>(),
  };
  let afterStop = 0;
  let stopped = false;
  const handlers: FetchHandlers = {
    positionOf: (_topic, partition) => start[partition],
    onAssigned: (partitions) => {
      calls.assigned.push([...partitions]);
      return [];
    },
    onBatch: (batch) => {
      if (stopped) afterStop += 1;
      calls.batches.push(batch);
    },
    onProgress: (_topic, partition, next) => {
      if (stopped) afterStop += 1;
      calls.progress.set(partition, next);
    },
    onFailure: (error) => {
      throw error;
    },
  };
  return { calls, handlers, markStopped: () => (stopped = true), afterStop: () => afterStop };
}

const offsetsOf = (batches: readonly FetchedBatch[], partition: number) =>
  batches
    .filter((batch) => batch.partition === partition)
    .flatMap((batch) => batch.messages.map((m) => Number(m.offset)));

async function until(condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const fetchOptions = {
  sessionTimeoutMs: 30_000,
  fetchMaxWaitMs: 100,
  maxBytesPerPartition: 1024,
  maxBytesPerFetch: 1 << 20,
};

async function connectedClient(topic: string): Promise<PlatformaticClient> {
  const config = kafkaSourceConfigSchema.parse({ brokers, topics: [topic] });
  const client = new PlatformaticClient({ ...config, logger: silentLogger });
  await client.connect();
  return client;
}

describe('platformatic fetch session (against the broker)', () => {
  it('assigns every partition once, fetches each from its position in order, pauses and resumes, and is silent after stop', async () => {
    const topic = await topicWith(3, 40);
    const client = await connectedClient(topic);
    const { calls, handlers, markStopped, afterStop } = recorder({ 1: '25' });
    const session = await client.startFetching([topic], handlers, fetchOptions);
    try {
      expect(calls.assigned).toEqual([[0, 1, 2].map((partition) => ({ topic, partition }))]);
      await until(
        () =>
          calls.progress.get(0) === '40' && calls.progress.get(1) === '40' && calls.progress.get(2) === '40',
      );
      // Small fetches (1 KiB a partition): many batches, each partition still contiguous from its start.
      expect(offsetsOf(calls.batches, 0)).toEqual([...Array(40).keys()]);
      expect(offsetsOf(calls.batches, 1)).toEqual([...Array(15).keys()].map((index) => index + 25));
      expect(offsetsOf(calls.batches, 2)).toEqual([...Array(40).keys()]);

      session.pause([{ topic, partition: 0 }]);
      await produce(topic, 3, 5, 40);
      await until(() => calls.progress.get(1) === '45' && calls.progress.get(2) === '45');
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(offsetsOf(calls.batches, 0)).toHaveLength(40);
      session.resume([{ topic, partition: 0 }]);
      await until(() => calls.progress.get(0) === '45');
      expect(offsetsOf(calls.batches, 0)).toEqual([...Array(45).keys()]);
    } finally {
      markStopped();
      await session.stop();
      await client.close();
    }
    await produce(topic, 3, 5, 45);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(afterStop()).toBe(0);
  }, 60_000);

  it('reports a fetch loop that cannot go on (its topic deleted) once, through onFailure, not restarting', async () => {
    const topic = await topicWith(1, 5);
    const client = await connectedClient(topic);
    const failures: { error: Error; restarting: boolean }[] = [];
    const { handlers, calls } = recorder();
    const session = await client.startFetching(
      [topic],
      { ...handlers, onFailure: (error, restarting) => failures.push({ error, restarting }) },
      fetchOptions,
    );
    try {
      await until(() => calls.progress.get(0) === '5');
      await admin.deleteTopics({ topics: [topic] });
      await until(() => failures.length > 0, 30_000);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(failures).toHaveLength(1);
      expect(failures[0]?.restarting).toBe(false);
      expect(client.connectionError(failures[0]?.error).code).toBe('CONNECTION_FAILED');
    } finally {
      await session.stop();
      await client.close();
    }
  }, 60_000);
});
