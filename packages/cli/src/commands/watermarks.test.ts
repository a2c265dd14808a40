import { describe, expect, it } from 'vitest';
import { parseResetTarget } from './watermarks.js';

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
