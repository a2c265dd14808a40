import type { RecordsBatch } from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import { committedMessages } from './platformatic-client.js';

const TRANSACTIONAL = 0x10;
const CONTROL = 0x20;
const PRODUCER = 7n;

/** A batch of `values` from offset `first`; transactional unless `producerId` is -1. */
function data(
  first: bigint,
  values: string[],
  producerId = PRODUCER,
  attributes = TRANSACTIONAL,
): RecordsBatch {
  return {
    firstOffset: first,
    length: 0,
    partitionLeaderEpoch: 0,
    magic: 2,
    crc: 0,
    attributes: producerId < 0n ? attributes & ~TRANSACTIONAL : attributes,
    lastOffsetDelta: values.length - 1,
    firstTimestamp: 1_000n,
    maxTimestamp: 5_000n,
    producerId,
    producerEpoch: 0,
    firstSequence: 0,
    records: values.map((value, index) => ({
      length: 0,
      attributes: 0,
      timestampDelta: BigInt(index),
      offsetDelta: index,
      key: null,
      value: Buffer.from(value),
      headers: [[Buffer.from('h'), Buffer.from(value)]],
    })),
  };
}

/** A control batch at `offset`: an abort or a commit marker of PRODUCER. */
function marker(offset: bigint, commit: boolean): RecordsBatch {
  const key = Buffer.alloc(4);
  key.writeInt16BE(commit ? 1 : 0, 2);
  return {
    ...data(offset, ['m']),
    attributes: TRANSACTIONAL | CONTROL,
    records: [
      { length: 0, attributes: 0, timestampDelta: 0n, offsetDelta: 0, key, value: null, headers: [] },
    ],
  };
}

const valuesOf = (result: ReturnType<typeof committedMessages>) =>
  result.messages.map((message) => message.value?.toString());

describe('committedMessages (read_committed filtering)', () => {
  const aborted = [{ producerId: PRODUCER, firstOffset: 4n }];

  it('drops an aborted transaction and the markers, and keeps the next transaction of the same producer', () => {
    const batches = [data(0n, ['a0', 'a1', 'a2']), marker(3n, true), data(4n, ['x0', 'x1', 'x2'])];
    batches.push(marker(7n, false), data(8n, ['b0', 'b1', 'b2']), marker(11n, true));
    const result = committedMessages(batches, aborted, 0n);
    expect(valuesOf(result)).toEqual(['a0', 'a1', 'a2', 'b0', 'b1', 'b2']);
    expect(result.messages.map((message) => message.offset)).toEqual(['0', '1', '2', '8', '9', '10']);
    expect(result.next).toBe(12n);
  });

  it('keeps the next transaction when the aborted data was already removed (only its marker is left)', () => {
    const batches = [
      data(0n, ['a0']),
      marker(3n, true),
      marker(7n, false),
      data(8n, ['b0']),
      marker(11n, true),
    ];
    expect(valuesOf(committedMessages(batches, aborted, 0n))).toEqual(['a0', 'b0']);
  });

  it('drops aborted data whose marker is beyond the response, and progress still passes it', () => {
    const result = committedMessages([data(4n, ['x0', 'x1', 'x2'])], aborted, 4n);
    expect(result.messages).toEqual([]);
    expect(result.next).toBe(7n);
  });

  it('keeps data of other producers interleaved with an aborted transaction', () => {
    const batches = [data(4n, ['x0']), data(5n, ['other'], 9n), data(6n, ['plain'], -1n), marker(7n, false)];
    expect(valuesOf(committedMessages(batches, aborted, 4n))).toEqual(['other', 'plain']);
  });

  it('skips records before the requested offset and reads timestamps and headers', () => {
    const result = committedMessages([data(10n, ['r10', 'r11', 'r12'], -1n)], [], 11n);
    expect(result.messages).toEqual([
      {
        offset: '11',
        timestamp: '1001',
        key: null,
        value: Buffer.from('r11'),
        headers: { h: Buffer.from('r11') },
      },
      {
        offset: '12',
        timestamp: '1002',
        key: null,
        value: Buffer.from('r12'),
        headers: { h: Buffer.from('r12') },
      },
    ]);
    const appended = committedMessages([data(0n, ['r0'], -1n, 0x08)], [], 0n);
    expect(appended.messages[0]?.timestamp).toBe('5000');
  });
});
