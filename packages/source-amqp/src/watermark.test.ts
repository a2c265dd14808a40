import { TidemarkError } from '@tidemark/sdk';
import { describe, expect, it } from 'vitest';
import { parseRedeliverPosition, parseStreamPosition, splitIdentities } from './watermark.js';

describe('positions', () => {
  it('parses stream offsets and refuses anything else', () => {
    expect(parseStreamPosition('s', '42')).toBe(42n);
    expect(parseStreamPosition('s', 7)).toBe(7n);
    for (const bad of ['-1', 'x', { count: 1, unacked: '' }, null]) {
      expect(() => parseStreamPosition('s', bad)).toThrow(TidemarkError);
    }
  });

  it('parses classic/quorum positions: a count and fixed-width identities', () => {
    const unacked = 'AAAAAAAAAAA'.concat('b-_b-_b-_b-');
    expect(parseRedeliverPosition('q', { count: 3, unacked })).toEqual({ count: 3, unacked });
    expect(splitIdentities(unacked)).toEqual(['AAAAAAAAAAA', 'b-_b-_b-_b-']);
    expect(splitIdentities('')).toEqual([]);
    for (const bad of [
      '12',
      { count: 1, unacked: 'short' },
      { count: -1, unacked: '' },
      { count: 1, unacked: 'AAAAAAAAAA!' },
    ]) {
      expect(() => parseRedeliverPosition('q', bad)).toThrow(/not \{ count, unacked \}/);
    }
  });
});
