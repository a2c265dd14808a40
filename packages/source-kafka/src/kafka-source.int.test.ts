import { randomUUID } from 'node:crypto';
import { Admin } from '@platformatic/kafka';
import { KAFKA_CLIENTS, type KafkaClientName } from '@tidemark/kafka';
import {
  advanceWatermark,
  type Source,
  TidemarkError,
  type TidemarkRecord,
  type Watermark,
} from '@tidemark/sdk';
import { assertContiguous, assertNoDuplicates } from '@tidemark/sdk/testing';
import kafkajs from 'kafkajs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defaultBrokers, type KafkaSourceConfigInput, kafkaSourceConfigSchema } from './config.js';
import { createKafkaSource } from './kafka-source.js';

const { Kafka, logLevel } = kafkajs;
const brokers = defaultBrokers();
const kafka = new Kafka({ brokers, clientId: 'source-kafka-test', logLevel: logLevel.NOTHING });
const admin = kafka.admin();
const producer = kafka.producer({ allowAutoTopicCreation: false });
const opened: Source[] = [];

beforeAll(async () => {
  await admin.connect();
  await producer.connect();
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((source) => source.close()));
});

afterAll(async () => {
  await producer.disconnect();
  await admin.disconnect();
});

function uniqueName(label: string): string {
  return `tm-src-${label}-${randomUUID().slice(0, 8)}`;
}

async function createTopic(partitions: number, label = 'topic'): Promise<string> {
  const topic = uniqueName(label);
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  return topic;
}

/** Produces `count` messages to each partition; values are `p<partition>-<index>`, timestamps `baseTime + index * 1000`. */
async function produce(
  topic: string,
  partitions: number,
  count: number,
  baseTime = Date.now(),
  from = 0,
): Promise<void> {
  const messages = [];
  for (let partition = 0; partition < partitions; partition += 1) {
    for (let index = from; index < from + count; index += 1) {
      messages.push({
        partition,
        key: `k${index}`,
        value: `p${partition}-${index}`,
        timestamp: String(baseTime + index * 1_000),
        headers: { index: String(index) },
      });
    }
  }
  await producer.send({ topic, messages });
}

/** Makes sources on `client`, closed after each test. */
function sourceMaker(client: KafkaClientName) {
  return (config: KafkaSourceConfigInput, name = 'orders'): Source => {
    const source = createKafkaSource(
      kafkaSourceConfigSchema.parse({
        brokers,
        fetchMaxWaitMs: 200,
        metadataRefreshMs: 500,
        client,
        ...config,
      }),
      name,
    );
    opened.push(source);
    return source;
  };
}

async function readBatch(
  source: Source,
  maxRecords = 1_000,
): Promise<{ records: readonly TidemarkRecord[]; end: boolean }> {
  const batch = await source.read({
    signal: new AbortController().signal,
    maxRecords,
    maxBytes: 10_000_000,
    maxWaitMs: 200,
  });
  return { records: batch.records, end: batch.end === true };
}

/** Reads until `done` says so (or the source ends); fails after `timeoutMs`. */
async function readUntil(
  source: Source,
  done: (records: readonly TidemarkRecord[]) => boolean,
  timeoutMs = 20_000,
): Promise<TidemarkRecord[]> {
  const records: TidemarkRecord[] = [];
  const deadline = Date.now() + timeoutMs;
  while (!done(records)) {
    if (Date.now() > deadline) throw new Error(`timed out after ${records.length} records`);
    const batch = await readBatch(source);
    records.push(...batch.records);
    if (batch.end) break;
  }
  return records;
}

/** Reads a bounded (stopAtEnd) source to its end. */
async function readToEnd(source: Source, timeoutMs = 20_000): Promise<TidemarkRecord[]> {
  const records: TidemarkRecord[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (Date.now() > deadline) throw new Error(`no end after ${records.length} records`);
    const batch = await readBatch(source);
    records.push(...batch.records);
    if (batch.end) return records;
  }
}

const text = (bytes: Uint8Array | null): string => (bytes ? Buffer.from(bytes).toString('utf8') : '');
const values = (records: readonly TidemarkRecord[]): string[] => records.map((record) => text(record.value));
const offsetsOf = (records: readonly TidemarkRecord[], partition: number): string[] =>
  records
    .filter((record) => record.provenance['kafka.partition'] === partition)
    .map((record) => String(record.provenance['kafka.offset']));
const firstOffsets = (records: readonly TidemarkRecord[], partitions: number): (string | undefined)[] =>
  Array.from({ length: partitions }, (_, partition) => offsetsOf(records, partition)[0]);

// Both client libraries pass the same tests.
describe.each(KAFKA_CLIENTS)('client: %s', (client) => {
  const makeSource = sourceMaker(client);

  describe('Kafka source (real broker)', () => {
    it('reads every partition in offset order with provenance, headers and rowtime', async () => {
      const topic = await createTopic(3);
      const baseTime = Date.UTC(2024, 0, 1);
      await produce(topic, 3, 20, baseTime);
      const source = makeSource({ topics: [topic] });
      await source.open(null);
      const records = await readUntil(source, (all) => all.length >= 60);
      expect(records).toHaveLength(60);
      for (let partition = 0; partition < 3; partition += 1) {
        const offsets = offsetsOf(records, partition);
        assertContiguous(offsets, { start: 0, label: `partition ${partition}` });
        expect(offsets).toHaveLength(20);
      }
      const sample = records.find((record) => text(record.value) === 'p1-7');
      expect(sample).toBeDefined();
      expect(sample?.provenance).toEqual({
        'kafka.topic': topic,
        'kafka.partition': 1,
        'kafka.offset': '7',
        'kafka.timestamp': baseTime + 7_000,
      });
      expect(sample?.rowtime).toBe(baseTime + 7_000);
      expect(text(sample?.key ?? null)).toBe('k7');
      expect(sample?.headers).toEqual({ index: '7' });
      expect(sample?.position).toEqual({ unit: `${topic}/1`, next: '8' });
      expect(await source.lag?.()).toBe(0);
    });

    it('skips aborted transactions and control records, and positions survive the gaps (read_committed)', async () => {
      const topic = await createTopic(1, 'txn');
      const transactional = kafka.producer({
        transactionalId: uniqueName('txid'),
        idempotent: true,
        maxInFlightRequests: 1,
      });
      await transactional.connect();
      try {
        const send = async (prefix: string, commit: boolean) => {
          const transaction = await transactional.transaction();
          await transaction.send({
            topic,
            messages: [0, 1, 2].map((index) => ({ value: `${prefix}-${index}` })),
          });
          await (commit ? transaction.commit() : transaction.abort());
        };
        await send('a', true);
        await send('x', false);
        await send('b', true);
      } finally {
        await transactional.disconnect();
      }
      const source = makeSource({ topics: [topic], stopAtEnd: true });
      await source.open(null);
      const records = await readToEnd(source);
      expect(values(records)).toEqual(['a-0', 'a-1', 'a-2', 'b-0', 'b-1', 'b-2']);
      // a-* at 0..2, commit marker 3, x-* 4..6, abort marker 7, b-* 8..10, commit marker 11.
      expect(offsetsOf(records, 0)).toEqual(['0', '1', '2', '8', '9', '10']);
      expect(records.map((record) => record.position.next)).toEqual(['1', '2', '3', '9', '10', '11']);

      // Resume after the first transaction: its watermark points at the commit marker.
      await source.seek(
        advanceWatermark(
          {},
          records.slice(0, 3).map((record) => record.position),
        ),
      );
      expect(values(await readToEnd(source))).toEqual(['b-0', 'b-1', 'b-2']);
    });

    it('seek to a watermark resumes exactly after it, discarding what was read since', async () => {
      const topic = await createTopic(2, 'seek');
      await produce(topic, 2, 50);
      const source = makeSource({ topics: [topic], bufferMaxRecords: 10 });
      await source.open(null);
      const firstPart = await readUntil(source, (all) => all.length >= 30);
      const watermark: Watermark = advanceWatermark(
        {},
        firstPart.map((record) => record.position),
      );
      const readAfterWatermark = await readUntil(source, (all) => all.length >= 20);
      expect(readAfterWatermark.length).toBeGreaterThanOrEqual(20);

      await source.seek(watermark);
      const rest = await readUntil(source, (all) => firstPart.length + all.length >= 100);
      const all = [...firstPart, ...rest];
      expect(all).toHaveLength(100);
      assertNoDuplicates(values(all));
      for (let partition = 0; partition < 2; partition += 1) {
        assertContiguous(offsetsOf(all, partition), { start: 0, label: `partition ${partition}` });
      }

      // seek(null) goes back to the configured start (earliest) of every partition.
      await source.seek(null);
      const again = await readUntil(source, (records) => records.length >= 100);
      expect(firstOffsets(again, 2)).toEqual(['0', '0']);
      assertNoDuplicates(values(again));
    });

    describe('start position precedence', () => {
      const baseTime = Date.UTC(2024, 5, 1);
      let topic: string;
      beforeAll(async () => {
        topic = await createTopic(2, 'start');
        await produce(topic, 2, 10, baseTime);
      });

      const startsAt = async (config: KafkaSourceConfigInput, watermark: Watermark | null = null) => {
        const source = makeSource({ topics: [topic], stopAtEnd: true, ...config });
        await source.open(watermark);
        const records = await readToEnd(source);
        await source.close();
        return firstOffsets(records, 2);
      };

      it('earliest by default, latest on request', async () => {
        expect(await startsAt({})).toEqual(['0', '0']);
        expect(await startsAt({ start: 'latest' })).toEqual([undefined, undefined]);
      });

      it('startTime picks the first record at or after the time', async () => {
        expect(await startsAt({ startTime: new Date(baseTime + 4_500).toISOString() })).toEqual(['5', '5']);
        expect(await startsAt({ startTime: baseTime + 6_000, start: 'latest' })).toEqual(['6', '6']);
      });

      it('startOffset beats startTime', async () => {
        expect(await startsAt({ startOffset: 3, startTime: baseTime + 6_000 })).toEqual(['3', '3']);
      });

      it('startPositions beats startOffset for the partitions it lists', async () => {
        expect(
          await startsAt({ startPositions: [{ topic, partition: 0, offset: 7 }], startOffset: 3 }),
        ).toEqual(['7', '3']);
      });

      it('a committed watermark beats everything for the partitions it covers', async () => {
        const config: KafkaSourceConfigInput = {
          startPositions: [
            { topic, partition: 0, offset: 7 },
            { topic, partition: 1, offset: '6' },
          ],
          startOffset: 3,
          startTime: baseTime,
        };
        expect(await startsAt(config, { [`${topic}/0`]: '8' })).toEqual(['8', '6']);
        expect(await startsAt({ startOffset: 3 }, { [`${topic}/1`]: '9' })).toEqual(['3', '9']);
      });

      it('a watermark beyond the end of the partition is refused', async () => {
        const source = makeSource({ topics: [topic] });
        const failure = await source.open({ [`${topic}/0`]: '1000' }).catch((error: unknown) => error);
        expect(TidemarkError.hasCode(failure, 'WATERMARK_INVALID')).toBe(true);
      });
    });

    it('latest: reads only what is produced after open', async () => {
      const topic = await createTopic(1, 'latest');
      await produce(topic, 1, 5);
      const source = makeSource({ topics: [topic], start: 'latest' });
      await source.open(null);
      expect((await readBatch(source)).records).toHaveLength(0);
      await produce(topic, 1, 3, Date.now(), 5);
      const records = await readUntil(source, (all) => all.length >= 3);
      expect(offsetsOf(records, 0)).toEqual(['5', '6', '7']);
    });

    it('picks up a partition added while running, from its earliest offset', async () => {
      const topic = await createTopic(1, 'grow');
      await produce(topic, 1, 5);
      const source = makeSource({ topics: [topic], start: 'latest' });
      await source.open(null);
      await admin.createPartitions({ topicPartitions: [{ topic, count: 2 }] });
      // kafkajs silently drops messages for a partition its metadata does not know yet, and the
      // broker may publish the new partition a moment later: produce with a fresh producer until
      // the broker acknowledges a write to partition 1 (the test data, not the source, is the issue).
      let written = false;
      for (let attempt = 0; attempt < 50 && !written; attempt += 1) {
        const freshProducer = kafka.producer({ allowAutoTopicCreation: false });
        await freshProducer.connect();
        const metadata = await freshProducer.send({
          topic,
          messages: [0, 1, 2].map((index) => ({ partition: 1, value: `new-${index}` })),
        });
        await freshProducer.disconnect();
        written = metadata.some((entry) => entry.partition === 1);
        if (!written) await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(written).toBe(true);
      const records = await readUntil(source, (all) => all.length >= 3);
      expect(values(records)).toEqual(['new-0', 'new-1', 'new-2']);
      expect(offsetsOf(records, 1)).toEqual(['0', '1', '2']);
    });

    it('topicPattern picks up a matching topic created later', async () => {
      const prefix = uniqueName('pattern');
      const first = `${prefix}-a`;
      await admin.createTopics({ topics: [{ topic: first, numPartitions: 1 }], waitForLeaders: true });
      await producer.send({ topic: first, messages: [{ value: 'a-0' }] });
      const source = makeSource({ topicPattern: `^${prefix}-` });
      await source.open(null);
      expect(values(await readUntil(source, (all) => all.length >= 1))).toEqual(['a-0']);

      const second = `${prefix}-b`;
      await admin.createTopics({ topics: [{ topic: second, numPartitions: 1 }], waitForLeaders: true });
      await producer.send({ topic: second, messages: [{ value: 'b-0' }, { value: 'b-1' }] });
      const later = await readUntil(source, (all) => all.length >= 2);
      expect(values(later)).toEqual(['b-0', 'b-1']);
      expect(later[0]?.provenance['kafka.topic']).toBe(second);
    });

    it('stopAtEnd ends at the offsets seen at open and ignores later records', async () => {
      const topic = await createTopic(2, 'bounded');
      await produce(topic, 2, 4);
      const source = makeSource({ topics: [topic], stopAtEnd: true });
      expect(source.capabilities.bounded).toBe(true);
      await source.open(null);
      await produce(topic, 2, 4, Date.now(), 4);
      const records = await readToEnd(source);
      expect(records).toHaveLength(8);
      expect(offsetsOf(records, 0)).toEqual(['0', '1', '2', '3']);
      const after = await readBatch(source);
      expect(after.end).toBe(true);
      expect(after.records).toHaveLength(0);
    });

    it('close releases everything; open after close resumes at the given watermark', async () => {
      const topic = await createTopic(1, 'reopen');
      await produce(topic, 1, 10);
      const source = makeSource({ topics: [topic] });
      await source.open(null);
      const first = await readUntil(source, (all) => all.length >= 4);
      const watermark = advanceWatermark(
        {},
        first.slice(0, 4).map((record) => record.position),
      );
      await source.close();
      await source.close();
      await expect(readBatch(source)).rejects.toSatisfy((error) =>
        TidemarkError.hasCode(error, 'NOT_CONNECTED'),
      );
      await source.open(watermark);
      const rest = await readUntil(source, (all) => all.length >= 6);
      expect(offsetsOf(rest, 0)).toEqual(['4', '5', '6', '7', '8', '9']);
    });

    it('returns promptly when the read is aborted', async () => {
      const topic = await createTopic(1, 'abort');
      const source = makeSource({ topics: [topic] });
      await source.open(null);
      const controller = new AbortController();
      const started = Date.now();
      setTimeout(() => controller.abort(), 100);
      const batch = await source.read({
        signal: controller.signal,
        maxRecords: 10,
        maxBytes: 1_000,
        maxWaitMs: 10_000,
      });
      expect(batch.records).toHaveLength(0);
      expect(Date.now() - started).toBeLessThan(2_000);
    });

    it('a position below the log start (records deleted meanwhile) resumes at the log start', async () => {
      const topic = await createTopic(1, 'retention');
      await produce(topic, 1, 10);
      const source = makeSource({ topics: [topic] });
      await source.open(null);
      expect(offsetsOf(await readUntil(source, (all) => all.length >= 10), 0)).toHaveLength(10);
      // As retention would: the records below offset 6 are removed (kafkajs's deleteTopicRecords
      // cannot find the partition leader here, so the other library's admin does it).
      const remover = new Admin({ clientId: 'source-kafka-test', bootstrapBrokers: brokers });
      await remover.deleteRecords({ topics: [{ name: topic, partitions: [{ partition: 0, offset: 6n }] }] });
      await remover.close();
      await source.seek({ [`${topic}/0`]: '3' });
      const rest = await readUntil(source, (all) => all.length >= 4);
      expect(offsetsOf(rest, 0)).toEqual(['6', '7', '8', '9']);
    });

    it('copies acknowledged positions to the monitoring group', async () => {
      const topic = await createTopic(1, 'monitor');
      await produce(topic, 1, 5);
      const group = uniqueName('monitor-group');
      const source = makeSource({ topics: [topic], monitoringGroup: group });
      await source.open(null);
      const records = await readUntil(source, (all) => all.length >= 5);
      await source.acknowledge(
        advanceWatermark(
          {},
          records.map((record) => record.position),
        ),
      );
      await source.close();
      const offsets = await admin.fetchOffsets({ groupId: group, topics: [topic] });
      expect(offsets[0]?.partitions).toEqual([expect.objectContaining({ partition: 0, offset: '5' })]);
    });

    it('refuses a listed topic that does not exist', async () => {
      const source = makeSource({ topics: [uniqueName('missing')] });
      const failure = await source.open(null).catch((error: unknown) => error);
      expect(TidemarkError.hasCode(failure, 'CONFIG_INVALID')).toBe(true);
    });

    it('fails with CONNECTION_FAILED and a fix within the connect timeout when no broker answers', async () => {
      const source = makeSource({ brokers: ['127.0.0.1:1'], topics: ['anything'], connectTimeoutMs: 3_000 });
      const started = Date.now();
      const failure = await source.open(null).catch((error: unknown) => error);
      expect(Date.now() - started).toBeLessThan(6_000);
      expect(TidemarkError.hasCode(failure, 'CONNECTION_FAILED')).toBe(true);
      expect((failure as TidemarkError).retriable).toBe(true);
      expect((failure as TidemarkError).fix).toMatch(/127\.0\.0\.1:1/);
    });
  });

  describe('watermarkAt (deliberate resets)', () => {
    it('translates latest into the end offsets and a time into the first offset at or after it', async () => {
      const topic = await createTopic(2, 'reset');
      const baseTime = Date.parse('2026-01-01T00:00:00Z');
      await produce(topic, 2, 5, baseTime);
      const source = makeSource({ topics: [topic] });
      const translate = source.watermarkAt!.bind(source);
      expect(await translate({ latest: true })).toEqual({ [`${topic}/0`]: '5', [`${topic}/1`]: '5' });
      // Messages carry timestamps baseTime + index s: index 3 is the first at or after +2.5 s.
      expect(await translate({ time: baseTime + 2_500 })).toEqual({
        [`${topic}/0`]: '3',
        [`${topic}/1`]: '3',
      });
      // A time after every message resumes at the end.
      expect(await translate({ time: baseTime + 60_000 })).toEqual({
        [`${topic}/0`]: '5',
        [`${topic}/1`]: '5',
      });
      // Opening at the translated watermark reads from there.
      await source.open(await translate({ time: baseTime + 2_500 }));
      const records = await readUntil(source, (read) => read.length >= 4);
      await new Promise((resolve) => setTimeout(resolve, 300));
      records.push(...(await readBatch(source)).records);
      expect(records.map((record) => record.value && Buffer.from(record.value).toString()).sort()).toEqual([
        'p0-3',
        'p0-4',
        'p1-3',
        'p1-4',
      ]);
    });
  });
});
