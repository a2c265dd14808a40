import { describe, expect, it } from 'vitest';
import { TidemarkError } from '../errors.js';
import { Tsort, type TsortEntry } from './tsort.js';

/** A record of source 'orders', unit `unit`, at offset `offset` (its position is offset + 1). */
const entry = (
  rowtime: number,
  offset: number,
  unit = 'orders/0',
  id = `${unit}@${offset}`,
): TsortEntry<string> => ({
  rowtime,
  source: 'orders',
  position: { unit, next: String(offset + 1) },
  item: id,
});
const ids = (entries: readonly TsortEntry<string>[]) => entries.map((released) => released.item);

describe('Tsort', () => {
  it('holds a record until the newest rowtime is more than within ahead of it', () => {
    const tsort = new Tsort<string>({ withinMs: 2_000, late: 'drop', maxHeld: 100 });
    expect(ids(tsort.push(entry(1_000, 0)).released)).toEqual([]);
    expect(ids(tsort.push(entry(3_000, 1)).released)).toEqual([]); // frontier 1 000: not below
    const step = tsort.push(entry(3_001, 2));
    expect(ids(step.released)).toEqual(['orders/0@0']);
    expect(step.frontier).toBe(1_001);
    expect(tsort.stats().held).toBe(2);
  });

  it('reorders within the bound and accepts a record exactly at the frontier', () => {
    const tsort = new Tsort<string>({ withinMs: 2_000, late: 'drop', maxHeld: 100 });
    tsort.push(entry(5_000, 0));
    const atBound = tsort.push(entry(3_000, 1)); // 5 000 − 2 000: on time
    expect(atBound.late).toEqual([]);
    expect(tsort.stats().lateDropped).toBe(0);
    tsort.push(entry(4_000, 2));
    expect(ids(tsort.flush().released)).toEqual(['orders/0@1', 'orders/0@2', 'orders/0@0']);
  });

  it('drops (and counts) a record beyond the bound, or returns it as a dead letter', () => {
    const dropping = new Tsort<string>({ withinMs: 2_000, late: 'drop', maxHeld: 100 });
    dropping.push(entry(5_000, 0));
    expect(dropping.push(entry(2_999, 1))).toEqual({ released: [], late: [], frontier: 3_000 });
    expect(dropping.stats().lateDropped).toBe(1);

    const routing = new Tsort<string>({ withinMs: 2_000, late: 'dead-letter', maxHeld: 100 });
    routing.push(entry(5_000, 0));
    // Returned only once the held record before it in its unit is released (same step as the
    // committable position that covers it).
    expect(routing.push(entry(2_999, 1)).late).toEqual([]);
    expect(routing.stats().lateDeadLettered).toBe(1);
    expect(routing.push(entry(1_000, 0, 'orders/1')).late).toEqual([
      { ...entry(1_000, 0, 'orders/1'), covered: false },
    ]);
    const flushed = routing.flush();
    expect(ids(flushed.released)).toEqual(['orders/0@0']);
    expect(flushed.late).toEqual([{ ...entry(2_999, 1), covered: false }]);
  });

  it('orders equal rowtimes by source unit, then by arrival within the unit', () => {
    const tsort = new Tsort<string>({ withinMs: 1_000, late: 'drop', maxHeld: 100 });
    tsort.push(entry(10, 0, 'orders/1'));
    tsort.push(entry(10, 0, 'orders/0'));
    tsort.push(entry(10, 1, 'orders/1'));
    tsort.push(entry(10, 1, 'orders/0'));
    tsort.push(entry(9, 2, 'orders/0'));
    expect(ids(tsort.flush().released)).toEqual([
      'orders/0@2',
      'orders/0@0',
      'orders/0@1',
      'orders/1@0',
      'orders/1@1',
    ]);
  });

  it('releases the same order whatever the interleaving of units', () => {
    const unitA = [entry(30, 0, 'a'), entry(10, 1, 'a'), entry(20, 2, 'a'), entry(20, 3, 'a')];
    const unitB = [entry(20, 0, 'b'), entry(10, 1, 'b'), entry(30, 2, 'b')];
    const run = (order: TsortEntry<string>[]) => {
      const tsort = new Tsort<string>({ withinMs: 100, late: 'drop', maxHeld: 100 });
      return ids([...order.flatMap((item) => tsort.push(item).released), ...tsort.flush().released]);
    };
    const first = run([...unitA, ...unitB]);
    expect(run([...unitB, ...unitA])).toEqual(first);
    expect(run([unitA[0]!, unitB[0]!, unitA[1]!, unitB[1]!, unitA[2]!, unitB[2]!, unitA[3]!])).toEqual(first);
  });

  it('never reports a committable position past a held record', () => {
    const tsort = new Tsort<string>({ withinMs: 100, late: 'drop', maxHeld: 100 });
    tsort.push(entry(1_000, 0)); // held until the frontier passes 1 000
    tsort.push(entry(950, 1)); // also held
    expect(tsort.takeCommittable()).toEqual([]);
    expect(tsort.oldestHeld('orders', 'orders/0')).toEqual({ unit: 'orders/0', next: '1' });
    tsort.push(entry(1_080, 2)); // frontier 980: releases offset 1 only, offset 0 still held
    expect(tsort.takeCommittable()).toEqual([]);
    tsort.push(entry(1_101, 3)); // frontier 1 001: releases offset 0; offsets 0 and 1 finished
    expect(tsort.takeCommittable()).toEqual([
      { source: 'orders', position: { unit: 'orders/0', next: '2' } },
    ]);
    expect(tsort.takeCommittable()).toEqual([]);
    tsort.push(entry(500, 4)); // late: finished at once, but offset 2 is held before it
    expect(tsort.takeCommittable()).toEqual([]);
    tsort.flush();
    expect(tsort.takeCommittable()).toEqual([
      { source: 'orders', position: { unit: 'orders/0', next: '5' } },
    ]);
    expect(tsort.oldestHeld('orders', 'orders/0')).toBeUndefined();
  });

  it('tracks each source unit on its own', () => {
    const tsort = new Tsort<string>({ withinMs: 10, late: 'drop', maxHeld: 100 });
    tsort.push(entry(100, 0, 'orders/0'));
    tsort.push(entry(50, 0, 'orders/1'));
    // orders/1@0 is 50 behind: late and finished; orders/0@0 is held.
    expect(tsort.takeCommittable()).toEqual([
      { source: 'orders', position: { unit: 'orders/1', next: '1' } },
    ]);
  });

  it('stops with CONFIG_INVALID naming the fix when more than maxHeld records are held', () => {
    const tsort = new Tsort<string>({ withinMs: 1_000, late: 'drop', maxHeld: 2 });
    tsort.push(entry(1, 0));
    tsort.push(entry(2, 1));
    let caught: unknown;
    try {
      tsort.push(entry(3, 2));
    } catch (thrown) {
      caught = thrown;
    }
    expect(TidemarkError.hasCode(caught, 'CONFIG_INVALID')).toBe(true);
    expect((caught as TidemarkError).retriable).toBe(false);
    expect((caught as TidemarkError).fix).toMatch(/maxHeld/);
  });

  it('rejects a record without a finite rowtime and bad options', () => {
    const tsort = new Tsort<string>({ withinMs: 1_000, late: 'drop', maxHeld: 2 });
    expect(() => tsort.push(entry(Number.NaN, 0))).toThrow(/rowtime/);
    expect(() => new Tsort({ withinMs: -1, late: 'drop', maxHeld: 2 })).toThrow(TidemarkError);
    expect(() => new Tsort({ withinMs: 1, late: 'drop', maxHeld: 0 })).toThrow(TidemarkError);
  });

  it('on a replay, reports nothing for a unit until the committed position is passed, and marks late records it covers', () => {
    const tsort = new Tsort<string>({
      withinMs: 100,
      late: 'dead-letter',
      maxHeld: 100,
      resume: { committed: { orders: { 'orders/0': '3' } }, replayStart: { orders: { 'orders/0': '0' } } },
    });
    tsort.push(entry(1_000, 0));
    tsort.push(entry(1_200, 1)); // releases offset 0: prefix at '1', but the committed position is '3'
    expect(tsort.takeCommittable()).toEqual([]);
    expect(tsort.push(entry(900, 2)).late).toEqual([]); // the committed record itself, late, behind offset 1
    expect(tsort.push(entry(950, 3)).late).toEqual([]);
    expect(tsort.takeCommittable()).toEqual([]);
    const flushed = tsort.flush();
    expect(flushed.late.map((item) => [item.item, item.covered])).toEqual([
      ['orders/0@2', true],
      ['orders/0@3', false],
    ]);
    expect(tsort.takeCommittable()).toEqual([
      { source: 'orders', position: { unit: 'orders/0', next: '4' } },
    ]);
  });

  it('on a replay that starts at the committed position, covers nothing', () => {
    const tsort = new Tsort<string>({
      withinMs: 0,
      late: 'dead-letter',
      maxHeld: 100,
      resume: { committed: { orders: { 'orders/0': '3' } }, replayStart: { orders: { 'orders/0': '3' } } },
    });
    tsort.push(entry(10, 3));
    expect(tsort.push(entry(5, 4)).late).toEqual([]);
    expect(tsort.takeCommittable()).toEqual([]); // offset 3 is held (within 0: until a later rowtime)
    expect(tsort.flush().late.map((item) => item.covered)).toEqual([false]);
    expect(tsort.takeCommittable()).toEqual([
      { source: 'orders', position: { unit: 'orders/0', next: '5' } },
    ]);
  });

  it('on a replay, a committed position no record carries (a skipped marker) is passed by the first record after it', () => {
    const tsort = new Tsort<string>({
      withinMs: 0,
      late: 'dead-letter',
      maxHeld: 100,
      // Offsets 2 and 3 were transaction markers: the committed position 4 is no record's.
      resume: { committed: { orders: { 'orders/0': '4' } }, replayStart: { orders: { 'orders/0': '0' } } },
    });
    tsort.push(entry(10, 0));
    tsort.push(entry(20, 1));
    expect(tsort.takeCommittable()).toEqual([]); // still before the committed position
    tsort.push(entry(30, 4)); // position '5': after the committed '4'
    expect(tsort.push(entry(5, 5)).late.map((item) => [item.item, item.covered])).toEqual([]);
    const flushed = tsort.flush();
    expect(flushed.late.map((item) => [item.item, item.covered])).toEqual([['orders/0@5', false]]);
    expect(tsort.takeCommittable()).toEqual([
      { source: 'orders', position: { unit: 'orders/0', next: '6' } },
    ]);
  });
});
