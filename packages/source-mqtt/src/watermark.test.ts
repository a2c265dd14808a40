import { TidemarkError } from '@tidemark/sdk';
import { describe, expect, it } from 'vitest';
import { compareSessionPositions, messageHash, parseEntry, parsePosition } from './watermark.js';

describe('MQTT watermark codec', () => {
  it('round-trips a position through JSON', () => {
    const position = { seq: 42, unacked: ['1:0123456789ab', '65535:ffffffffffff'] };
    expect(parsePosition(JSON.parse(JSON.stringify(position)), 'c')).toEqual(position);
    expect(parsePosition(undefined, 'c')).toBeNull();
    expect(parseEntry('65535:ab')).toEqual({ messageId: 65535, hash: 'ab' });
  });

  it.each([
    ['a string', 'x'],
    ['a negative seq', { seq: -1, unacked: [] }],
    ['a bad entry', { seq: 1, unacked: ['x:1'] }],
    ['no list', { seq: 1 }],
  ])('rejects %s with WATERMARK_INVALID and a fix', (_, value) => {
    try {
      parsePosition(value as never, 'client-a');
      expect.unreachable();
    } catch (error) {
      expect(TidemarkError.hasCode(error, 'WATERMARK_INVALID')).toBe(true);
      expect((error as TidemarkError).fix).toMatch(/reset/);
      expect((error as TidemarkError).message).toContain('client-a');
    }
  });

  it('hashes topic and payload: either one changing changes the hash', () => {
    const base = messageHash('a/b', Buffer.from('x'));
    expect(base).toMatch(/^[0-9a-f]{12}$/);
    expect(messageHash('a/b', Buffer.from('x'))).toBe(base);
    expect(messageHash('a/c', Buffer.from('x'))).not.toBe(base);
    expect(messageHash('a/b', Buffer.from('y'))).not.toBe(base);
    expect(messageHash('a/bx', Buffer.from(''))).not.toBe(messageHash('a/b', Buffer.from('x')));
  });

  it('orders positions by seq', () => {
    expect(compareSessionPositions({ seq: 1, unacked: [] }, { seq: 2, unacked: [] })).toBeLessThan(0);
    expect(compareSessionPositions({ seq: 3, unacked: [] }, { seq: 2, unacked: ['1:aa'] })).toBeGreaterThan(
      0,
    );
  });
});
