import type { TidemarkRecord } from '@tidemark/sdk';
import { describe, expect, it } from 'vitest';
import { RecordQueue } from './record-queue.js';

function record(id: number, size = 10): TidemarkRecord {
  return {
    key: null,
    value: new Uint8Array(size),
    headers: {},
    rowtime: id,
    provenance: {},
    position: { unit: 't/0', next: String(id + 1) },
  };
}

describe('RecordQueue', () => {
  it('returns records in push order across chunks, bounded by maxRecords', () => {
    const queue = new RecordQueue();
    queue.push([record(0), record(1), record(2)]);
    queue.push([record(3), record(4)]);
    expect(queue.count).toBe(5);
    expect(queue.bytes).toBe(50);
    expect(queue.take(4, 1_000).map((entry) => entry.rowtime)).toEqual([0, 1, 2, 3]);
    expect(queue.count).toBe(1);
    expect(queue.bytes).toBe(10);
    expect(queue.take(4, 1_000).map((entry) => entry.rowtime)).toEqual([4]);
    expect(queue.take(4, 1_000)).toEqual([]);
  });

  it('stops at maxBytes but always returns at least one record', () => {
    const queue = new RecordQueue();
    queue.push([record(0, 100), record(1, 100), record(2, 100)]);
    expect(queue.take(10, 250).map((entry) => entry.rowtime)).toEqual([0, 1]);
    expect(queue.take(10, 50).map((entry) => entry.rowtime)).toEqual([2]);
    expect(queue.count).toBe(0);
    expect(queue.bytes).toBe(0);
  });

  it('clear drops everything', () => {
    const queue = new RecordQueue();
    queue.push([record(0)]);
    queue.clear();
    expect(queue.count).toBe(0);
    expect(queue.take(10, 1_000)).toEqual([]);
  });
});
