import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TidemarkError } from '../errors.js';
import { createAccumulator, parseAggregate, parseAggregates } from './aggregate.js';
import { toDecimal } from './decimal.js';

describe('parseAggregate', () => {
  it('reads every function, in any case, and count(*)', () => {
    expect(parseAggregate('total', 'sum(price * quantity)')).toMatchObject({
      function: 'sum',
      argumentText: 'price * quantity',
    });
    expect(parseAggregate('n', 'COUNT(*)')).toMatchObject({ function: 'count', argument: null });
    expect(parseAggregate('n', 'count()')).toMatchObject({ function: 'count', argument: null });
    expect(parseAggregate('n', 'count(price)').argument).not.toBeNull();
    expect(parseAggregates({ a: 'min(x)', b: 'Max(x)', c: 'avg(x)' }).map((spec) => spec.function)).toEqual([
      'min',
      'max',
      'avg',
    ]);
  });

  it('rejects what is not an aggregate call, naming the column', () => {
    for (const text of ['price', 'median(price)', 'sum()', 'sum(price > 1)', 'sum(*)']) {
      expect(() => parseAggregate('total', text), text).toThrow(TidemarkError);
    }
    expect(() => parseAggregate('total', 'median(price)')).toThrow(/aggregate 'total'/);
  });
});

const decimal = (value: number) => toDecimal(value)!;

describe('accumulators', () => {
  it('sum and avg of nothing are null, count of nothing is 0', () => {
    for (const fn of ['sum', 'avg', 'min', 'max'] as const)
      expect(createAccumulator(fn).result(), fn).toBeNull();
    expect(createAccumulator('count').result()).toBe(0);
    const sum = createAccumulator('sum');
    sum.add(1, null);
    expect(sum.result()).toBeNull();
  });

  it('a sliding sum is exact however long its history (no floating drift)', () => {
    const sum = createAccumulator('sum');
    for (let index = 0; index < 1_000; index += 1) {
      sum.add(index, decimal(0.1));
      sum.add(index, decimal(0.2));
      sum.remove(decimal(0.1));
      sum.remove(decimal(0.2));
    }
    sum.add(0, decimal(0.3));
    expect(sum.result()).toBe(0.3);
  });

  it('avg divides the exact sum by the count of non-null values', () => {
    const avg = createAccumulator('avg');
    for (const value of [1, 2, null, 4]) avg.add(0, value === null ? null : decimal(value));
    expect(avg.result()).toBe(2.3333333333333335);
    avg.remove(decimal(1));
    expect(avg.result()).toBe(3);
  });

  it('min and max over a sliding range agree with a rescan (monotonic deque)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ gap: fc.integer({ min: 0, max: 3 }), value: fc.integer({ min: -5, max: 5 }) })),
        fc.integer({ min: 1, max: 6 }),
        (rows, range) => {
          const min = createAccumulator('min');
          const max = createAccumulator('max');
          const seen: { rowtime: number; value: number }[] = [];
          let rowtime = 0;
          for (const row of rows) {
            rowtime += row.gap;
            min.evictThrough(rowtime - range);
            max.evictThrough(rowtime - range);
            min.add(rowtime, decimal(row.value));
            max.add(rowtime, decimal(row.value));
            seen.push({ rowtime, value: row.value });
            const inWindow = seen
              .filter((entry) => entry.rowtime > rowtime - range)
              .map((entry) => entry.value);
            expect(min.result()).toBe(Math.min(...inWindow));
            expect(max.result()).toBe(Math.max(...inWindow));
          }
        },
      ),
    );
  });
});
