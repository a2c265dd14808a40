import { describe, expect, it } from 'vitest';
import type { TidemarkRecord } from './record.js';
import { instrumentSource, isSaneRowtime, promotedRowtime, toEpochMs } from './rowtime.js';
import type { Source, SourceBatch } from './source.js';

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
    expect(toEpochMs('1700000000000.4', 'auto')).toBe(1_700_000_000_000);
  });

  it('refuses times outside years 1970–9999 and reads numbers in the declared unit', () => {
    expect(toEpochMs(1.7e18, 'auto')).toContain('looks like nanoseconds: set rowtimeUnit: ns');
    expect(toEpochMs(1.7e15, 'auto')).toContain('looks like microseconds');
    expect(toEpochMs(1e300, 'auto')).toContain('outside the rowtime range');
    expect(toEpochMs(-5, 'auto')).toContain('outside the rowtime range');
    expect(toEpochMs('1e300', 'auto')).toContain('not an ISO-8601 time');
    expect(toEpochMs('99999999999999999999', 'auto')).toContain('outside the rowtime range');
    expect(toEpochMs('+275760-09-13T00:00:00Z', 'auto')).toContain('outside the rowtime range');
    expect(toEpochMs(1.7e18, 'auto', 'ns')).toBe(1_700_000_000_000);
    expect(toEpochMs('1700000000000000', 'auto', 'us')).toBe(1_700_000_000_000);
    expect(toEpochMs(1_700_000_000, 'auto', 's')).toBe(1_700_000_000_000);
    expect(toEpochMs('2026-01-05T09:00:00Z', 'auto', 'ns')).toBe(Date.parse('2026-01-05T09:00:00Z'));
    expect(isSaneRowtime(253_402_300_799_999)).toBe(true);
    expect(isSaneRowtime(253_402_300_800_000)).toBe(false);
    expect(isSaneRowtime(Number.NaN)).toBe(false);
    expect(isSaneRowtime(1.5)).toBe(false);
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

  it('instruments a source: promoted rowtimes, poison for unreadable ones, lag and progress sampled between reads', async () => {
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
      progress: async () => {
        calls.push('progress');
        return { done: 3, total: 10 };
      },
    };
    const lags: number[] = [];
    const progress: unknown[] = [];
    const decorated = instrumentSource(inner, {
      rowtime: { from: 'field', field: 'at', format: 'auto' },
      onLag: (lag) => lags.push(lag),
      onProgress: (value) => progress.push(value),
    });
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
    expect(calls).toEqual(['read', 'lag', 'progress', 'read']);
    expect(progress).toEqual([{ done: 3, total: 10 }]);
    expect(decorated.name).toBe('s');
  });
});
