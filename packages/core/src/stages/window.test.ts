import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TidemarkError } from '../errors.js';
import { createWindow, type WindowOutput, type WindowSpec } from './window.js';

interface Order {
  id: number;
  product?: string;
  price?: number | string | null;
  quantity?: number;
}

const HOUR = 3_600_000;
const sliding = (aggregates: Record<string, string>, rangeMs = HOUR): WindowSpec => ({
  kind: 'sliding',
  rangeMs,
  partitionBy: ['product'],
  aggregates,
});
const tumbling = (aggregates: Record<string, string>, sizeMs = 60_000): WindowSpec => ({
  kind: 'tumbling',
  sizeMs,
  partitionBy: ['product'],
  aggregates,
});
const row = (rowtime: number, order: Order) => ({
  rowtime,
  fields: order as unknown as Record<string, unknown>,
  item: order,
});
const values = (outputs: WindowOutput<Order>[]) => outputs.map((output) => output.values);

describe('sliding window (RANGE INTERVAL … PRECEDING)', () => {
  it('excludes a row exactly range older (lower edge exclusive) and includes one a millisecond newer', () => {
    const window = createWindow<Order>(sliding({ total: 'sum(price * quantity)', n: 'count(*)' }));
    expect(values(window.push(row(0, { id: 1, product: 'a', price: 1, quantity: 1 })))).toEqual([
      { total: 1, n: 1 },
    ]);
    expect(values(window.push(row(1, { id: 2, product: 'a', price: 10, quantity: 1 })))).toEqual([
      { total: 11, n: 2 },
    ]);
    // rowtime HOUR: window (0, HOUR] — the row at 0 has left, the row at 1 is still in.
    expect(values(window.push(row(HOUR, { id: 3, product: 'a', price: 100, quantity: 1 })))).toEqual([
      { total: 110, n: 2 },
    ]);
    expect(values(window.push(row(HOUR + 1, { id: 4, product: 'a', price: 1000, quantity: 1 })))).toEqual([
      { total: 1100, n: 2 },
    ]);
  });

  it('aggregates equal rowtimes cumulatively, one output per row carrying the row', () => {
    const window = createWindow<Order>(sliding({ total: 'sum(price)' }));
    const outputs = [1, 2, 3].flatMap((id) => window.push(row(5, { id, product: 'a', price: id })));
    expect(outputs.map((output) => [output.rowtime, output.item?.id, output.values.total])).toEqual([
      [5, 1, 1],
      [5, 2, 3],
      [5, 3, 6],
    ]);
  });

  it('partitions by key: each product sees only its own rows', () => {
    const window = createWindow<Order>(sliding({ total: 'sum(price)', top: 'max(price)' }));
    const outputs = [
      window.push(row(1, { id: 1, product: 'a', price: 5 })),
      window.push(row(2, { id: 2, product: 'b', price: 7 })),
      window.push(row(3, { id: 3, product: 'a', price: 1 })),
    ].flat();
    expect(outputs.map((output) => [output.partition, output.values])).toEqual([
      [['a'], { total: 5, top: 5 }],
      [['b'], { total: 7, top: 7 }],
      [['a'], { total: 6, top: 5 }],
    ]);
    expect(window.partitions).toBe(2);
  });

  it('gives null for sum, avg, min and max of nothing but the row itself being null, count 0', () => {
    const window = createWindow<Order>(
      sliding({ s: 'sum(price)', a: 'avg(price)', lo: 'min(price)', hi: 'max(price)', n: 'count(price)' }),
    );
    expect(values(window.push(row(1, { id: 1, product: 'a', price: null })))).toEqual([
      { s: null, a: null, lo: null, hi: null, n: 0 },
    ]);
  });

  it('refuses input out of rowtime order', () => {
    const window = createWindow<Order>(sliding({ s: 'sum(price)' }));
    window.push(row(10, { id: 1, product: 'a', price: 1 }));
    expect(() => window.push(row(9, { id: 2, product: 'a', price: 1 }))).toThrow(/out of order/);
  });

  it('leaves its state untouched when a row cannot be evaluated (poison)', () => {
    const window = createWindow<Order>(sliding({ s: 'sum(price)' }));
    window.push(row(1, { id: 1, product: 'a', price: 1 }));
    expect(() => window.push(row(2, { id: 2, product: 'a', price: 'free' }))).toThrow(TidemarkError);
    expect(values(window.push(row(2, { id: 3, product: 'a', price: 2 })))).toEqual([{ s: 3 }]);
  });

  it('frees idle partitions once the frontier passes their last row by the range', () => {
    const window = createWindow<Order>(sliding({ s: 'sum(price)' }, 1_000));
    window.push(row(0, { id: 1, product: 'a', price: 1 }));
    window.push(row(500, { id: 2, product: 'b', price: 1 }));
    expect(window.advance(1_200)).toEqual([]);
    expect(window.partitions).toBe(1);
    expect(values(window.push(row(1_300, { id: 3, product: 'a', price: 2 })))).toEqual([{ s: 2 }]);
  });

  it('matches a rescan of the window for random sorted input', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            gap: fc.integer({ min: 0, max: 400 }),
            product: fc.constantFrom('a', 'b'),
            cents: fc.integer({ min: -500, max: 5_000 }),
          }),
          { maxLength: 60 },
        ),
        (rows) => {
          const window = createWindow<Order>(
            sliding({ s: 'sum(price)', lo: 'min(price)', hi: 'max(price)', n: 'count(*)' }, 1_000),
          );
          const seen: { rowtime: number; product: string; cents: number }[] = [];
          let rowtime = 0;
          for (const input of rows) {
            rowtime += input.gap;
            const [output] = window.push(
              row(rowtime, { id: 0, product: input.product, price: input.cents / 100 }),
            );
            seen.push({ rowtime, product: input.product, cents: input.cents });
            const inWindow = seen.filter(
              (entry) => entry.product === input.product && entry.rowtime > rowtime - 1_000,
            );
            const cents = inWindow.map((entry) => entry.cents);
            expect(output!.values).toEqual({
              s: cents.reduce((sum, value) => sum + value, 0) / 100,
              lo: Math.min(...cents) / 100,
              hi: Math.max(...cents) / 100,
              n: cents.length,
            });
          }
        },
      ),
    );
  });
});

describe('tumbling window', () => {
  it('closes a window when a row at its end arrives (that row opens the next window)', () => {
    const window = createWindow<Order>(tumbling({ total: 'sum(price * quantity)' }));
    expect(window.push(row(0, { id: 1, product: 'a', price: 2, quantity: 3 }))).toEqual([]);
    expect(window.push(row(59_999, { id: 2, product: 'a', price: 1, quantity: 1 }))).toEqual([]);
    const closed = window.push(row(60_000, { id: 3, product: 'a', price: 5, quantity: 1 }));
    expect(closed).toEqual([{ rowtime: 60_000, windowStart: 0, partition: ['a'], values: { total: 7 } }]);
    expect(window.flush()).toEqual([
      { rowtime: 120_000, windowStart: 60_000, partition: ['a'], values: { total: 5 } },
    ]);
  });

  it('closes windows when the frontier reaches their end, in order of ends, and emits nothing for empty ones', () => {
    const window = createWindow<Order>(tumbling({ n: 'count(*)' }));
    window.push(row(1_000, { id: 1, product: 'a' }));
    window.push(row(2_000, { id: 2, product: 'b' }));
    expect(window.advance(59_999)).toEqual([]);
    expect(window.advance(60_000).map((output) => [output.partition, output.values.n])).toEqual([
      [['a'], 1],
      [['b'], 1],
    ]);
    window.push(row(200_000, { id: 3, product: 'a' }));
    // The windows [60 000, 120 000) and [120 000, 180 000) had no rows: no output.
    expect(window.advance(240_000)).toEqual([
      { rowtime: 240_000, windowStart: 180_000, partition: ['a'], values: { n: 1 } },
    ]);
    expect(window.flush()).toEqual([]);
  });

  it('gives null AVG for a window whose values are all null, and count(*) still counts rows', () => {
    const window = createWindow<Order>(
      tumbling({ a: 'avg(price)', rows: 'count(*)', priced: 'count(price)' }),
    );
    window.push(row(1, { id: 1, product: 'a', price: null }));
    window.push(row(2, { id: 2, product: 'a' }));
    expect(values(window.flush())).toEqual([{ a: null, rows: 2, priced: 0 }]);
  });

  it('keys on several partition expressions', () => {
    const window = createWindow<Order>({
      kind: 'tumbling',
      sizeMs: 10,
      partitionBy: ['product', 'quantity * 2'],
      aggregates: { n: 'count(*)' },
    });
    window.push(row(1, { id: 1, product: 'a', quantity: 1 }));
    window.push(row(2, { id: 2, product: 'a', quantity: 2 }));
    window.push(row(3, { id: 3, product: 'a', quantity: 1 }));
    expect(window.flush().map((output) => [output.partition, output.values.n])).toEqual([
      [['a', 2], 2],
      [['a', 4], 1],
    ]);
  });

  it('rejects a window without aggregates or with a non-positive size', () => {
    expect(() => createWindow({ kind: 'tumbling', sizeMs: 10, partitionBy: [], aggregates: {} })).toThrow(
      /at least one aggregate/,
    );
    expect(() =>
      createWindow({ kind: 'sliding', rangeMs: 0, partitionBy: [], aggregates: { n: 'count(*)' } }),
    ).toThrow(/positive/);
  });
});
