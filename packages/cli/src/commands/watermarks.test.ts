import { describe, expect, it } from 'vitest';
import { formatCommitted, isoOf, parseResetTarget } from './watermarks.js';

describe('parseResetTarget', () => {
  it('accepts earliest, latest, ISO times and JSON watermarks', () => {
    expect(parseResetTarget('earliest')).toEqual({ kind: 'earliest' });
    expect(parseResetTarget('latest')).toEqual({ kind: 'latest' });
    expect(parseResetTarget('2026-01-31T12:00:00Z')).toEqual({
      kind: 'time',
      time: Date.parse('2026-01-31T12:00:00Z'),
    });
    expect(parseResetTarget('{"orders":{"t/0":"42"}}')).toEqual({
      kind: 'explicit',
      watermarks: { orders: { 't/0': '42' } },
    });
  });

  it('rejects anything else, naming what is allowed', () => {
    expect(() => parseResetTarget('yesterday')).toThrow("--to 'yesterday' is not a reset target");
    expect(() => parseResetTarget('2026-13-45')).toThrow('is not a reset target');
    expect(() => parseResetTarget('{"orders": 5}')).toThrow('must map source name');
    expect(() => parseResetTarget('{oops')).toThrow('not valid JSON');
  });
});

describe('formatCommitted', () => {
  it('prints a stored rowtime that is no time (a nanosecond value, say) without failing', () => {
    const pipeline = { config: { name: 'orders' }, sources: [] } as unknown as Parameters<
      typeof formatCommitted
    >[0];
    const text = formatCommitted(pipeline, {
      watermarks: {},
      rowtime: 1.7e18,
      committedAt: 1_700_000_000_000,
    });
    expect(text).toContain('1700000000000000000 (not a time in years 1970–9999');
    expect(text).toContain('2023-11-14T22:13:20.000Z');
    expect(isoOf(1e300)).toBeNull();
    expect(isoOf(0)).toBe('1970-01-01T00:00:00.000Z');
  });
});
