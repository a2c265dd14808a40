import { describe, expect, it } from 'vitest';
import type { FetchedBatch, KinesisApi } from './kinesis-client.js';
import { ShardReader } from './shard-reader.js';
import type { ShardStart } from './stream-position.js';

function awsError(name: string): Error {
  const error = new Error(`${name} from the service`);
  error.name = name;
  return error;
}

const record = (sequenceNumber: string) => ({
  sequenceNumber,
  arrivalTime: 1_000,
  partitionKey: 'k',
  data: Buffer.from(sequenceNumber),
});

/** A scripted stand-in for the Kinesis calls: each GetRecords answer or error, in order. */
function scriptedApi(answers: (FetchedBatch | Error)[]) {
  const iteratorRequests: ShardStart[] = [];
  const api = {
    iterator: async (_stream: string, _shard: string, start: ShardStart) => {
      iteratorRequests.push(start);
      return `iterator-${iteratorRequests.length}`;
    },
    records: async () => {
      const answer = answers.shift();
      if (!answer) throw new Error('no scripted answer left');
      if (answer instanceof Error) throw answer;
      return answer;
    },
  } as unknown as KinesisApi;
  return { api, iteratorRequests };
}

const settings = { deaggregate: true, maxRecordsPerCall: 100, pollIntervalMs: 200, maxBackoffMs: 400 };
const signal = new AbortController().signal;

describe('ShardReader', () => {
  it('waits out an AT_TIMESTAMP start the service calls future (its clock behind ours), then reads from it', async () => {
    const future = awsError('InvalidArgumentException');
    future.message = 'Timestamp cannot be in the future';
    let calls = 0;
    const requests: ShardStart[] = [];
    const api = {
      iterator: async (_stream: string, _shard: string, start: ShardStart) => {
        requests.push(start);
        calls += 1;
        if (calls === 1) throw future;
        return 'iterator';
      },
      records: async () => ({ records: [record('7')], nextIterator: 'next', millisBehindLatest: 0 }),
    } as unknown as KinesisApi;
    const start: ShardStart = { type: 'AT_TIMESTAMP', time: 5_000 };
    const reader = new ShardReader('s', 'shard-0', start, api, settings);
    const before = Date.now();
    await reader.fetch(signal);
    expect(reader.pending).toEqual([]);
    expect(reader.nextPollAt).toBeGreaterThan(before);
    await reader.fetch(signal);
    expect(requests).toEqual([start, start]);
    expect(reader.pending.map((entry) => entry.sequenceNumber)).toEqual(['7']);
  });

  it('still fails on any other invalid argument', async () => {
    const api = {
      iterator: async () => {
        throw awsError('InvalidArgumentException');
      },
    } as unknown as KinesisApi;
    const reader = new ShardReader('s', 'shard-0', { type: 'TRIM_HORIZON' }, api, settings);
    await expect(reader.fetch(signal)).rejects.toThrow('InvalidArgumentException');
  });

  it('backs off a throttled shard, doubling up to maxBackoffMs, and resets after a success', async () => {
    const throttled = awsError('ProvisionedThroughputExceededException');
    const { api } = scriptedApi([
      throttled,
      awsError('LimitExceededException'),
      throttled,
      throttled,
      { records: [record('1')], nextIterator: 'next', millisBehindLatest: 0 },
    ]);
    const reader = new ShardReader('s', 'shard-0', { type: 'TRIM_HORIZON' }, api, settings);
    const pauses: number[] = [];
    for (let attempt = 0; attempt < 4; attempt += 1) {
      const before = Date.now();
      await reader.fetch(signal);
      pauses.push(reader.backoffMs);
      expect(reader.nextPollAt).toBeGreaterThanOrEqual(before + reader.backoffMs / 2);
      expect(reader.pending).toEqual([]);
    }
    expect(pauses).toEqual([100, 200, 400, 400]);
    await reader.fetch(signal);
    expect(reader.backoffMs).toBe(0);
    expect(reader.pending.map((item) => item.sequenceNumber)).toEqual(['1']);
  });

  it('renews an expired iterator just after the last record it fetched', async () => {
    const { api, iteratorRequests } = scriptedApi([
      { records: [record('10'), record('11')], nextIterator: 'next', millisBehindLatest: 5 },
      awsError('ExpiredIteratorException'),
      { records: [record('12')], nextIterator: 'next', millisBehindLatest: 0 },
    ]);
    const reader = new ShardReader('s', 'shard-0', { type: 'AT_TIMESTAMP', time: 5 }, api, settings);
    await reader.fetch(signal);
    expect(reader.nextPollAt).toBe(0);
    reader.pending = [];
    await reader.fetch(signal);
    await reader.fetch(signal);
    expect(iteratorRequests).toEqual([
      { type: 'AT_TIMESTAMP', time: 5 },
      { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: '11' },
    ]);
    expect(reader.pending.map((item) => item.sequenceNumber)).toEqual(['12']);
  });

  it('marks the shard closed when GetRecords returns no next iterator, and waits when caught up', async () => {
    const { api } = scriptedApi([
      { records: [], nextIterator: 'next', millisBehindLatest: 0 },
      { records: [record('3')], nextIterator: undefined, millisBehindLatest: 0 },
    ]);
    const reader = new ShardReader('s', 'shard-0', { type: 'TRIM_HORIZON' }, api, settings);
    const before = Date.now();
    await reader.fetch(signal);
    expect(reader.closed).toBe(false);
    expect(reader.nextPollAt).toBeGreaterThanOrEqual(before + 200);
    await reader.fetch(signal);
    expect(reader.closed).toBe(true);
    expect(reader.due(Date.now() + 10_000)).toBe(false);
  });

  it('throws errors it does not handle, as the client raised them', async () => {
    const { api } = scriptedApi([awsError('ResourceNotFoundException')]);
    const reader = new ShardReader('s', 'shard-0', { type: 'TRIM_HORIZON' }, api, settings);
    await expect(reader.fetch(signal)).rejects.toThrow(/ResourceNotFoundException/);
  });
});
