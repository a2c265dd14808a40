import { createHash } from 'node:crypto';
import { FencedError, type SinkRecord, sleep, TidemarkError } from '@tidemark/sdk';
import { describe, expect, it } from 'vitest';
import { parseKafkaSinkConfig } from './config.js';
import { rejection } from './int-test-helpers.js';
import type { CommittedOffset, KafkaAdmin, KafkaClientFactory, OffsetEntry } from './kafka-client.js';
import { createKafkaSink } from './kafka-sink.js';
import { readStoredWatermark, watermarkEntries } from './watermark-store.js';

/**
 * A scriptable stand-in for the client: committed offsets per group, counts of producers,
 * EndTxn aborts and commits, and hooks to hang or fail single calls.
 */
class ScriptedKafka {
  /** group → "topic/partition" → committed offset. */
  readonly offsets = new Map<string, Map<string, CommittedOffset>>();
  producersCreated = 0;
  endTxnAborts = 0;
  /** When set, the next admin connect waits for this promise. */
  hangNextAdminConnect: Promise<void> | null = null;
  failNextSendWith: unknown = null;
  failNextSendOffsetsWith: unknown = null;
  failNextCommitWith: unknown = null;

  factory: KafkaClientFactory = () => ({
    createAdmin: () => this.admin(),
    createProducer: () => {
      this.producersCreated += 1;
      return {
        connect: async (stillWanted?: () => boolean) => {
          if (stillWanted && !stillWanted()) throw new Error('abandoned');
        },
        disconnect: async () => {},
        begin: async () => {
          let pending: { group: string; entries: readonly OffsetEntry[] } | null = null;
          return {
            send: async () => {
              const failure = this.failNextSendWith;
              this.failNextSendWith = null;
              if (failure) throw failure;
            },
            sendOffsets: async (group: string, entries: readonly OffsetEntry[]) => {
              const failure = this.failNextSendOffsetsWith;
              this.failNextSendOffsetsWith = null;
              if (failure) throw failure;
              pending = { group, entries };
            },
            commit: async () => {
              const failure = this.failNextCommitWith;
              this.failNextCommitWith = null;
              if (failure) throw failure;
              if (pending) this.apply(pending.group, pending.entries);
            },
            abort: async () => {
              this.endTxnAborts += 1;
            },
          };
        },
      };
    },
  });

  admin(): KafkaAdmin {
    return {
      connect: async () => {
        const hang = this.hangNextAdminConnect;
        this.hangNextAdminConnect = null;
        if (hang) await hang;
      },
      disconnect: async () => {},
      partitionCount: async () => 8,
      createTopics: async () => {},
      createPartitions: async () => {},
      fetchOffsets: async (group, topic) => this.fetch(group, topic),
    };
  }

  apply(group: string, entries: readonly OffsetEntry[]): void {
    const byKey = this.offsets.get(group) ?? new Map<string, CommittedOffset>();
    for (const entry of entries) {
      byKey.set(`${entry.topic}/${entry.partition}`, {
        partition: entry.partition,
        offset: entry.offset,
        metadata: entry.metadata,
      });
    }
    this.offsets.set(group, byKey);
  }

  fetch(group: string, topic: string): CommittedOffset[] {
    const entries = [...(this.offsets.get(group)?.entries() ?? [])]
      .filter(([key]) => key.startsWith(`${topic}/`))
      .map(([, entry]) => entry);
    return entries.length > 0 ? entries : [{ partition: 0, offset: -1, metadata: null }];
  }
}

function record(value: string): SinkRecord {
  return {
    key: null,
    value: Buffer.from(value),
    headers: {},
    rowtime: 1,
    provenance: {},
    position: { unit: 'u', next: 1 },
  };
}

const identity = { pipelineId: 'p' };
const watermarks = { s: { u: { next: 1 } } };

/** An open sink in a transaction holding one written record. */
async function sinkInTransaction(fake: ScriptedKafka, options: Record<string, unknown> = {}) {
  const sink = createKafkaSink({ topic: 't', ...options }, { clientFactory: fake.factory });
  await sink.open(identity);
  await sink.begin();
  await sink.write([record('a')]);
  return sink;
}

describe('KafkaSink hardening (scripted client)', () => {
  it('a late open step stops at its next await instead of fencing the open that replaced it', async () => {
    const fake = new ScriptedKafka();
    const sink = createKafkaSink({ topic: 't', connectTimeoutMs: 100 }, { clientFactory: fake.factory });
    let release = () => {};
    fake.hangNextAdminConnect = new Promise<void>((resolve) => {
      release = resolve;
    });
    expect((await rejection(sink.open(identity))).code).toBe('CONNECTION_FAILED');
    await sink.open(identity);
    expect(fake.producersCreated).toBe(1);
    release();
    await sleep(50);
    expect(fake.producersCreated).toBe(1);
    await sink.begin();
    await sink.write([record('a')]);
    await sink.commit({ watermarks, rowtime: 1 });
    expect(sink.state).toBe('idle');
    await sink.close();
  });

  it('close aborts the transaction left open by a non-retriable commit failure', async () => {
    const fake = new ScriptedKafka();
    const sink = await sinkInTransaction(fake);
    fake.failNextSendOffsetsWith = new TidemarkError('INTERNAL', 'refused', { retriable: false });
    expect((await rejection(sink.commit({ watermarks, rowtime: 1 }))).code).toBe('INTERNAL');
    expect(sink.state).toBe('failed');
    await sink.close();
    expect(fake.endTxnAborts).toBe(1);
    expect(sink.state).toBe('closed');
  });

  it('reports a fencing answer to a transaction older than transactionTimeoutMs as a retriable timeout', async () => {
    const fake = new ScriptedKafka();
    const sink = await sinkInTransaction(fake, { transactionTimeoutMs: 1_000, batch: { maxRecords: 1 } });
    await sleep(1_050);
    fake.failNextSendOffsetsWith = new FencedError(
      'kafka sink: sendOffsets was fenced (INVALID_PRODUCER_EPOCH)',
    );
    const error = await rejection(sink.commit({ watermarks, rowtime: 1 }));
    expect(error.code).toBe('TIMEOUT');
    expect(error.retriable).toBe(true);
    expect(error.message).toContain('transactionTimeoutMs (1000 ms)');
    expect(error.fix).toMatch(/raise transactionTimeoutMs/);
    await sink.recover();
    expect(sink.state).toBe('idle');
    await sink.close();
  });

  it('still reports FENCED for a young transaction', async () => {
    const fake = new ScriptedKafka();
    const sink = await sinkInTransaction(fake, { transactionTimeoutMs: 60_000 });
    fake.failNextSendOffsetsWith = new FencedError('kafka sink: sendOffsets was fenced');
    expect((await rejection(sink.commit({ watermarks, rowtime: 1 }))).code).toBe('FENCED');
    expect((await rejection(sink.recover())).code).toBe('FENCED');
    await sink.close();
  });

  it('after a failed send, aborts through a new producer (bumped epoch) instead of EndTxn at the old epoch', async () => {
    const fake = new ScriptedKafka();
    const sink = await sinkInTransaction(fake);
    fake.failNextSendWith = new TidemarkError('TIMEOUT', 'kafka sink: send timed out', { retriable: true });
    expect((await rejection(sink.commit({ watermarks, rowtime: 1 }))).code).toBe('TIMEOUT');
    await sink.abort();
    expect(fake.endTxnAborts).toBe(0);
    expect(fake.producersCreated).toBe(2);
    // Without a failed send, abort is an EndTxn.
    await sink.begin();
    await sink.write([record('b')]);
    await sink.abort();
    expect(fake.endTxnAborts).toBe(1);
    await sink.close();
  });

  it('close after a failed send also aborts through a new producer', async () => {
    const fake = new ScriptedKafka();
    const sink = await sinkInTransaction(fake);
    fake.failNextSendWith = new TidemarkError('TIMEOUT', 'kafka sink: send timed out', { retriable: true });
    await rejection(sink.commit({ watermarks, rowtime: 1 }));
    await sink.close();
    expect(fake.endTxnAborts).toBe(0);
    expect(fake.producersCreated).toBe(2);
  });

  it('says the watermark group was deleted under a running pipeline instead of retrying forever', async () => {
    const fake = new ScriptedKafka();
    const sink = await sinkInTransaction(fake, { connectTimeoutMs: 300 });
    await sink.commit({ watermarks, rowtime: 1 });
    fake.offsets.clear();
    fake.failNextCommitWith = new TidemarkError('TIMEOUT', 'EndTxn timed out', { retriable: true });
    await sink.begin();
    await sink.write([record('b')]);
    expect((await rejection(sink.commit({ watermarks, rowtime: 2 }))).code).toBe('COMMIT_UNCERTAIN');
    const error = await rejection(sink.recover());
    expect(error.code).toBe('WATERMARK_INVALID');
    expect(error.retriable).toBe(false);
    expect(error.message).toContain('deleted or reset while the pipeline ran');
    expect(error.fix).toMatch(/Restart the pipeline/);
    await sink.close();
  });
});

describe('readStoredWatermark of a chunked watermark', () => {
  const config = parseKafkaSinkConfig({ topic: 't', offsetMetadataMaxBytes: 256 });
  const group = 't_watermark.p';
  const large = (sequence: number) => ({
    identity,
    sequence,
    state: {
      watermarks: Object.fromEntries(
        Array.from({ length: 40 }, (_, index) => [
          `source-${index}`,
          { unit: { next: createHash('sha256').update(`${sequence}/${index}`).digest('hex') } },
        ]),
      ),
      rowtime: sequence,
      committedAt: sequence,
    },
  });

  it('re-reads a header and chunks that straddle a commit instead of reporting corruption', async () => {
    const fake = new ScriptedKafka();
    const seven = watermarkEntries(config, large(7));
    expect(seven.length).toBeGreaterThan(2);
    fake.apply(group, seven);
    const admin = fake.admin();
    let chunkReads = 0;
    const torn: KafkaAdmin = {
      ...admin,
      fetchOffsets: async (groupId, topic) => {
        if (topic === config.watermarkTopic && chunkReads++ === 0) {
          // Commit 8 lands between the header read and the chunk read.
          fake.apply(group, watermarkEntries(config, large(8)));
        }
        return fake.fetch(groupId, topic);
      },
    };
    const stored = await readStoredWatermark(torn, config, identity);
    expect(stored?.sequence).toBe(8);
    expect(chunkReads).toBe(2);
  });

  it('never advises deleting the group', async () => {
    const fake = new ScriptedKafka();
    fake.apply(group, [{ topic: 't', partition: 0, offset: 3, metadata: 'not a watermark' }]);
    const error = await rejection(readStoredWatermark(fake.admin(), config, identity));
    expect(error.code).toBe('WATERMARK_INVALID');
    expect(error.fix).not.toMatch(/start over, delete the group/i);
    expect(error.fix).toMatch(/Do not delete the group/);
  });
});
