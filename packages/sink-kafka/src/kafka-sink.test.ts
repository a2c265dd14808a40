import { FencedError, type SinkRecord, TidemarkError } from '@tidemark/sdk';
import { describe, expect, it } from 'vitest';
import kafkaSinkDefault, { kafkaSink } from './index.js';
import { rejection } from './int-test-helpers.js';
import type {
  CommittedOffset,
  KafkaClient,
  KafkaClientFactory,
  OffsetEntry,
  TopicMessages,
} from './kafka-client.js';
import { createKafkaSink } from './kafka-sink.js';

/** An in-memory stand-in for the client: committed offsets per group, sends per transaction. */
class FakeKafka {
  readonly offsets = new Map<string, Map<string, CommittedOffset>>();
  readonly sends: TopicMessages[][] = [];
  readonly committedMessages: TopicMessages[] = [];
  producersCreated = 0;
  failNextCommitWith: TidemarkError | null = null;
  maxConcurrentSends = 0;
  #concurrentSends = 0;

  factory: KafkaClientFactory = () => this.client();

  client(): KafkaClient {
    return {
      createAdmin: () => ({
        connect: async () => {},
        disconnect: async () => {},
        partitionCount: async () => 1,
        createTopics: async () => {},
        createPartitions: async () => {},
        fetchOffsets: async (group, topic) => {
          const entries = [...(this.offsets.get(group)?.entries() ?? [])]
            .filter(([key]) => key.startsWith(`${topic}/`))
            .map(([, entry]) => entry);
          return entries.length > 0 ? entries : [{ partition: 0, offset: -1, metadata: null }];
        },
      }),
      createProducer: () => {
        this.producersCreated += 1;
        return {
          connect: async () => {},
          disconnect: async () => {},
          begin: async () => {
            const sent: TopicMessages[] = [];
            let offsets: { group: string; entries: readonly OffsetEntry[] } | null = null;
            return {
              send: async (batches) => {
                this.#concurrentSends += 1;
                this.maxConcurrentSends = Math.max(this.maxConcurrentSends, this.#concurrentSends);
                await new Promise((resolve) => setTimeout(resolve, 5));
                this.#concurrentSends -= 1;
                this.sends.push([...batches]);
                sent.push(...batches);
              },
              sendOffsets: async (group, entries) => {
                offsets = { group, entries };
              },
              commit: async () => {
                const failure = this.failNextCommitWith;
                this.failNextCommitWith = null;
                if (failure) throw failure;
                this.committedMessages.push(...sent);
                if (offsets) {
                  const byKey = this.offsets.get(offsets.group) ?? new Map<string, CommittedOffset>();
                  for (const entry of offsets.entries) {
                    byKey.set(`${entry.topic}/${entry.partition}`, {
                      partition: entry.partition,
                      offset: entry.offset,
                      metadata: entry.metadata,
                    });
                  }
                  this.offsets.set(offsets.group, byKey);
                }
              },
              abort: async () => {},
            };
          },
        };
      },
    };
  }
}

function record(value: string | Uint8Array, extra: Partial<SinkRecord> = {}): SinkRecord {
  return {
    key: null,
    value: typeof value === 'string' ? Buffer.from(value) : value,
    headers: {},
    rowtime: 1,
    provenance: {},
    position: { unit: 'u', next: 1 },
    ...extra,
  };
}

const identity = { pipelineId: 'p' };

describe('KafkaSink state machine (fake client)', () => {
  it('throws ILLEGAL_STATE for calls out of order', async () => {
    const fake = new FakeKafka();
    const sink = createKafkaSink({ topic: 't' }, { clientFactory: fake.factory });
    expect((await rejection(sink.begin())).code).toBe('ILLEGAL_STATE');
    expect((await rejection(sink.write([record('x')]))).code).toBe('ILLEGAL_STATE');
    await sink.open(identity);
    expect((await rejection(sink.open(identity))).code).toBe('ILLEGAL_STATE');
    expect((await rejection(sink.write([record('x')]))).code).toBe('ILLEGAL_STATE');
    expect((await rejection(sink.commit({ watermarks: {}, rowtime: null }))).code).toBe('ILLEGAL_STATE');
    expect((await rejection(sink.abort())).code).toBe('ILLEGAL_STATE');
    await sink.begin();
    const illegal = await rejection(sink.begin());
    expect(illegal.code).toBe('ILLEGAL_STATE');
    expect(illegal.retriable).toBe(false);
    await sink.commit({ watermarks: { s: { u: 1 } }, rowtime: 1 });
    expect(sink.state).toBe('idle');
    await sink.close();
    await sink.close();
    expect(sink.state).toBe('closed');
  });

  it('after an uncertain commit allows only recover and close, and recover reads afresh with a new producer', async () => {
    const fake = new FakeKafka();
    const sink = createKafkaSink({ topic: 't' }, { clientFactory: fake.factory });
    await sink.open(identity);
    await sink.begin();
    await sink.commit({ watermarks: { s: { u: 1 } }, rowtime: 1 });
    await sink.begin();
    fake.failNextCommitWith = new TidemarkError('TIMEOUT', 'EndTxn timed out');
    const uncertain = await rejection(sink.commit({ watermarks: { s: { u: 2 } }, rowtime: 2 }));
    expect(uncertain.code).toBe('COMMIT_UNCERTAIN');
    expect(sink.state).toBe('uncertain');
    expect((await rejection(sink.abort())).code).toBe('ILLEGAL_STATE');
    expect((await rejection(sink.begin())).code).toBe('ILLEGAL_STATE');
    const producersBefore = fake.producersCreated;
    expect((await sink.recover()).watermarks).toEqual({ s: { u: 1 } });
    expect(fake.producersCreated).toBe(producersBefore + 1);
    expect(sink.state).toBe('idle');
  });

  it('every abort replaces the producer, so replayed batches never reuse sequence numbers', async () => {
    const fake = new FakeKafka();
    const sink = createKafkaSink({ topic: 't' }, { clientFactory: fake.factory });
    await sink.open(identity);
    await sink.begin();
    await sink.write([]);
    const producersBefore = fake.producersCreated;
    await sink.abort();
    expect(fake.producersCreated).toBe(producersBefore + 1);
    expect(sink.state).toBe('idle');
    await sink.begin();
    await sink.commit({ watermarks: { s: { u: 1 } }, rowtime: 1 });
    await sink.close();
  });

  it('a fenced commit is not uncertain, and the sink stays fenced', async () => {
    const fake = new FakeKafka();
    const sink = createKafkaSink({ topic: 't' }, { clientFactory: fake.factory });
    await sink.open(identity);
    await sink.begin();
    fake.failNextCommitWith = new FencedError('fenced');
    expect((await rejection(sink.commit({ watermarks: {}, rowtime: null }))).code).toBe('FENCED');
    expect(sink.state).toBe('failed');
    expect((await rejection(sink.abort())).code).toBe('FENCED');
    expect((await rejection(sink.recover())).code).toBe('FENCED');
  });

  it('sends in batches of batch.maxRecords with at most one send in flight', async () => {
    const fake = new FakeKafka();
    const sink = createKafkaSink({ topic: 't', batch: { maxRecords: 3 } }, { clientFactory: fake.factory });
    await sink.open(identity);
    await sink.begin();
    for (let index = 0; index < 10; index += 1) await sink.write([record(`v${index}`)]);
    await sink.commit({ watermarks: {}, rowtime: null });
    expect(fake.sends.map((batches) => batches[0]!.messages.length)).toEqual([3, 3, 3, 1]);
    expect(fake.maxConcurrentSends).toBe(1);
    expect(
      fake.committedMessages.flatMap((batch) => batch.messages.map((message) => message.value?.toString())),
    ).toEqual(Array.from({ length: 10 }, (_, index) => `v${index}`));
  });

  it('validates and normalises values per valueFormat', async () => {
    const fake = new FakeKafka();
    const sink = createKafkaSink({ topic: 't', valueFormat: 'json' }, { clientFactory: fake.factory });
    await sink.open(identity);
    await sink.begin();
    await sink.write([record(new Uint8Array(Buffer.from('{ "a" : 1 }')))]);
    await sink.commit({ watermarks: {}, rowtime: null });
    const value = fake.committedMessages[0]!.messages[0]!.value!;
    expect(Buffer.isBuffer(value)).toBe(true);
    expect(value.toString()).toBe('{"a":1}');
    await sink.begin();
    expect((await rejection(sink.write([record('{not json')]))).code).toBe('POISON_RECORD');
    expect(sink.state).toBe('failed');
    await sink.abort();
    expect(sink.state).toBe('idle');

    const strings = createKafkaSink({ topic: 't', valueFormat: 'string' }, { clientFactory: fake.factory });
    await strings.open(identity);
    await strings.begin();
    expect((await rejection(strings.write([record(new Uint8Array([0xff, 0xfe]))]))).code).toBe(
      'POISON_RECORD',
    );
  });

  it("rejects 'dead-letter' records when no deadLetterTopic is set", async () => {
    const fake = new FakeKafka();
    const sink = createKafkaSink({ topic: 't' }, { clientFactory: fake.factory });
    expect(sink.capabilities.deadLetter).toBe(false);
    await sink.open(identity);
    await sink.begin();
    expect((await rejection(sink.write([record('x', { route: 'dead-letter' })]))).code).toBe(
      'CONFIG_INVALID',
    );
  });

  it('exports the connector as default and by name', () => {
    expect(kafkaSinkDefault).toBe(kafkaSink);
    expect(kafkaSink).toMatchObject({
      kind: 'sink',
      type: 'kafka',
      packageName: '@tidemark/sink-kafka',
      capabilities: { transactional: true, deadLetter: true },
    });
  });
});
