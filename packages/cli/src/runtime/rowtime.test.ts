import type { Source, SourceBatch, TidemarkRecord } from '@tidemark/core';
import { describe, expect, it } from 'vitest';
import { decorateSource, promotedRowtime, toEpochMs } from './rowtime.js';

const record = (value: unknown, provenance: TidemarkRecord['provenance'] = {}): TidemarkRecord => ({
  key: null,
  value: Buffer.from(JSON.stringify(value)),
  headers: {},
  rowtime: 1,
  provenance,
  position: { unit: 'u', next: 1 },
});

describe('rowtime promotion', () => {
  it('reads epoch ms, epoch s and ISO times', () => {
    expect(toEpochMs(1_700_000_000_000, 'auto')).toBe(1_700_000_000_000);
    expect(toEpochMs('1700000000', 'epoch-s')).toBe(1_700_000_000_000);
    expect(toEpochMs('2026-01-05T09:00:00Z', 'auto')).toBe(Date.parse('2026-01-05T09:00:00Z'));
    expect(toEpochMs('yesterday', 'iso')).toContain('not an ISO-8601 time');
    expect(toEpochMs(null, 'auto')).toBe('the value is missing');
  });

  it('takes a provenance column or a nested JSON field', () => {
    expect(
      promotedRowtime(record({}, { 'kafka.timestamp': 42 }), {
        from: 'provenance',
        column: 'kafka.timestamp',
        format: 'auto',
      }),
    ).toBe(42);
    expect(
      promotedRowtime(record({ event: { at: 7 } }), { from: 'field', field: 'event.at', format: 'epoch-ms' }),
    ).toBe(7);
    expect(
      promotedRowtime(record({ other: 1 }), { from: 'field', field: 'event.at', format: 'auto' }),
    ).toContain('missing');
  });

  it('decorates a source: promoted rowtimes, poison for unreadable ones, lag sampled between reads', async () => {
    const batch: SourceBatch = { records: [record({ at: 5 }), record({ nope: 1 })] };
    const calls: string[] = [];
    const inner: Source = {
      name: 's',
      provenance: [],
      capabilities: { replay: 'seek', exactlyOnce: true, bounded: true },
      open: async () => void calls.push('open'),
      read: async () => {
        calls.push('read');
        return batch;
      },
      seek: async () => void calls.push('seek'),
      acknowledge: async () => void calls.push('ack'),
      close: async () => void calls.push('close'),
      lag: async () => {
        calls.push('lag');
        return 12;
      },
    };
    const lags: number[] = [];
    const decorated = decorateSource(inner, { from: 'field', field: 'at', format: 'auto' }, (lag) =>
      lags.push(lag),
    );
    const result = await decorated.read({
      signal: new AbortController().signal,
      maxRecords: 10,
      maxBytes: 1000,
      maxWaitMs: 1,
    });
    expect(result.records[0]?.rowtime).toBe(5);
    expect(result.records[1]?.poison).toContain("rowtime field 'at'");
    expect(lags).toEqual([12]);
    await decorated.read({
      signal: new AbortController().signal,
      maxRecords: 10,
      maxBytes: 1000,
      maxWaitMs: 1,
    });
    expect(calls).toEqual(['read', 'lag', 'read']);
    expect(decorated.name).toBe('s');
  });
});
