import { TidemarkError } from '@tidemark/sdk';
import { describe, expect, it } from 'vitest';
import {
  chooseStartRule,
  parseOffset,
  parseUnit,
  resolveStart,
  type StartOptions,
  unitOf,
} from './start-position.js';

const none: StartOptions = { start: 'earliest' };
const everything: StartOptions = {
  startPositions: [{ topic: 'orders', partition: 0, offset: '7' }],
  startOffset: '3',
  startTime: 1_700_000_000_000,
  start: 'latest',
};

describe('chooseStartRule', () => {
  it('applies the precedence watermark > startPositions > startOffset > startTime > start', () => {
    expect(chooseStartRule('orders', 0, { 'orders/0': '9' }, everything, false)).toEqual({
      kind: 'watermark',
      offset: 9n,
    });
    expect(chooseStartRule('orders', 0, { 'orders/1': '9' }, everything, false)).toEqual({
      kind: 'startPositions',
      offset: 7n,
    });
    expect(chooseStartRule('orders', 1, null, everything, false)).toEqual({
      kind: 'startOffset',
      offset: 3n,
    });
    expect(chooseStartRule('orders', 1, null, { ...everything, startOffset: undefined }, false)).toEqual({
      kind: 'startTime',
      time: 1_700_000_000_000,
    });
    expect(chooseStartRule('orders', 1, null, { start: 'latest' }, false)).toEqual({ kind: 'latest' });
    expect(chooseStartRule('orders', 1, null, none, false)).toEqual({ kind: 'earliest' });
  });

  it('starts a partition found after open at its watermark, its explicit position, or earliest', () => {
    expect(chooseStartRule('orders', 1, null, everything, true)).toEqual({ kind: 'earliest' });
    expect(chooseStartRule('orders', 0, null, everything, true)).toEqual({
      kind: 'startPositions',
      offset: 7n,
    });
    expect(chooseStartRule('orders', 1, { 'orders/1': '2' }, everything, true)).toEqual({
      kind: 'watermark',
      offset: 2n,
    });
  });

  it('rejects a watermark position that is not an offset', () => {
    expect(() => chooseStartRule('orders', 0, { 'orders/0': { line: 3 } }, none, false)).toThrow(
      expect.objectContaining({ code: 'WATERMARK_INVALID' }),
    );
  });
});

describe('resolveStart', () => {
  const bounds = { low: 10n, high: 20n };

  it('resolves earliest, latest and startTime against the partition', () => {
    expect(resolveStart('t/0', { kind: 'earliest' }, bounds)).toEqual({ offset: 10n, clamped: false });
    expect(resolveStart('t/0', { kind: 'latest' }, bounds)).toEqual({ offset: 20n, clamped: false });
    expect(resolveStart('t/0', { kind: 'startTime', time: 5 }, bounds, 15n)).toEqual({
      offset: 15n,
      clamped: false,
    });
    expect(resolveStart('t/0', { kind: 'startTime', time: 5 }, bounds)).toEqual({
      offset: 20n,
      clamped: false,
    });
  });

  it('clamps explicit offsets into the partition', () => {
    expect(resolveStart('t/0', { kind: 'startOffset', offset: 3n }, bounds)).toEqual({
      offset: 10n,
      clamped: true,
    });
    expect(resolveStart('t/0', { kind: 'startPositions', offset: 25n }, bounds)).toEqual({
      offset: 20n,
      clamped: true,
    });
    expect(resolveStart('t/0', { kind: 'watermark', offset: 4n }, bounds)).toEqual({
      offset: 10n,
      clamped: true,
    });
    expect(resolveStart('t/0', { kind: 'watermark', offset: 20n }, bounds)).toEqual({
      offset: 20n,
      clamped: false,
    });
  });

  it('refuses a watermark beyond the end of the partition', () => {
    let failure: unknown;
    try {
      resolveStart('t/0', { kind: 'watermark', offset: 21n }, bounds);
    } catch (error) {
      failure = error;
    }
    expect(TidemarkError.hasCode(failure, 'WATERMARK_INVALID')).toBe(true);
    expect((failure as TidemarkError).fix).toBeDefined();
  });
});

describe('units', () => {
  it('round-trips topic and partition, including topics with dots and dashes', () => {
    expect(unitOf('a.b-c', 12)).toBe('a.b-c/12');
    expect(parseUnit('a.b-c/12')).toEqual({ topic: 'a.b-c', partition: 12 });
    expect(parseUnit('no-partition')).toBeUndefined();
    expect(parseUnit('/3')).toBeUndefined();
    expect(parseUnit('t/x')).toBeUndefined();
  });

  it('parses offsets from decimal strings and safe integers only', () => {
    expect(parseOffset('12345678901234567890', 't/0')).toBe(12345678901234567890n);
    expect(parseOffset(42, 't/0')).toBe(42n);
    expect(() => parseOffset(-1, 't/0')).toThrow();
    expect(() => parseOffset('1.5', 't/0')).toThrow();
  });
});
