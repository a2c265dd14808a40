import { describe, expect, it } from 'vitest';
import { TidemarkError } from '../errors.js';
import { StageChain } from './chain.js';
import type { TsortEntry } from './tsort.js';

type Fields = Record<string, unknown>;
const entry = (rowtime: number, offset: number, fields: Fields): TsortEntry<Fields> => ({
  rowtime,
  source: 'orders',
  position: { unit: 'orders/0', next: offset + 1 },
  item: fields,
});
const identity = (fields: Fields) => fields;

describe('StageChain', () => {
  it('without a window, emits records in rowtime order and commits the last emitted rowtime', () => {
    const chain = new StageChain({ tsort: { withinMs: 10, late: 'drop', maxHeld: 10 } }, identity);
    expect(chain.committedRowtime).toBeNull();
    chain.push(entry(100, 0, { id: 'a' }));
    chain.push(entry(95, 1, { id: 'b' }));
    const step = chain.push(entry(120, 2, { id: 'c' }));
    expect(step.outputs.map((output) => [output.rowtime, output.item?.id])).toEqual([
      [95, 'b'],
      [100, 'a'],
    ]);
    expect(chain.committedRowtime).toBe(100);
    expect(chain.takeCommittable()).toEqual([{ source: 'orders', position: { unit: 'orders/0', next: 2 } }]);
  });

  it('hands window expression failures to the poison policy and goes on', () => {
    const chain = new StageChain(
      {
        tsort: { withinMs: 0, late: 'drop', maxHeld: 10 },
        window: { kind: 'sliding', rangeMs: 1_000, partitionBy: [], aggregates: { total: 'sum(price)' } },
      },
      identity,
    );
    const steps = [
      chain.push(entry(1, 0, { price: 1 })),
      chain.push(entry(2, 1, { price: 'n/a' })),
      chain.push(entry(3, 2, { price: 2 })),
      chain.flush(),
    ];
    const poison = steps.flatMap((step) => step.poison);
    expect(poison.map((item) => [item.entry.rowtime, item.error.code])).toEqual([[2, 'POISON_RECORD']]);
    expect(steps.flatMap((step) => step.outputs).map((output) => output.values.total)).toEqual([1, 3]);
    expect(chain.takeCommittable()).toEqual([{ source: 'orders', position: { unit: 'orders/0', next: 3 } }]);
  });

  it('returns late records as dead letters, and suppresses them and the committed outputs on a replay', () => {
    const spec = { tsort: { withinMs: 10, late: 'dead-letter' as const, maxHeld: 10 } };
    const replay = new StageChain(spec, identity, {
      committedRowtime: 100,
      committed: { orders: { 'orders/0': 3 } },
      replayStart: { orders: { 'orders/0': 0 } },
    });
    replay.push(entry(100, 0, { id: 'a' }));
    expect(replay.push(entry(80, 1, { id: 'late, committed' })).late).toEqual([]);
    replay.push(entry(105, 2, { id: 'b' })); // its position is the committed watermark
    expect(replay.push(entry(80, 3, { id: 'late, new' })).late).toEqual([]);
    const flushed = replay.flush();
    expect(flushed.late.map((item) => item.item.id)).toEqual(['late, new']);
    expect(flushed.outputs.map((output) => output.item?.id)).toEqual(['b']);
    expect(replay.gate.stats()).toEqual({ suppressed: 1, suppressedLate: 1 });
    expect(replay.committedRowtime).toBe(105);
  });

  it('commits the frontier as the rowtime of a tumbling window, before any window closed', () => {
    const chain = new StageChain(
      {
        tsort: { withinMs: 1_000, late: 'drop', maxHeld: 10 },
        window: { kind: 'tumbling', sizeMs: 60_000, partitionBy: [], aggregates: { n: 'count(*)' } },
      },
      identity,
    );
    expect(chain.committedRowtime).toBeNull();
    chain.push(entry(1_000, 0, {}));
    expect(chain.committedRowtime).toBe(0);
    chain.push(entry(5_000, 1, {}));
    expect(chain.committedRowtime).toBe(4_000);
    expect(chain.push(entry(61_000, 2, {})).outputs).toEqual([
      { rowtime: 60_000, windowStart: 0, partition: [], values: { n: 2 } },
    ]);
    expect(chain.committedRowtime).toBe(60_000);
  });
});

describe('StageChain poison from decoding', () => {
  it('reports a record whose fields cannot be decoded as poison at its release, in rowtime order', () => {
    const decode = (fields: Fields) => {
      if (fields.broken) throw new TidemarkError('POISON_RECORD', 'value is not a JSON object');
      return fields;
    };
    const chain = new StageChain(
      {
        tsort: { withinMs: 10, late: 'drop', maxHeld: 10 },
        window: { kind: 'sliding', rangeMs: 100, partitionBy: [], aggregates: { n: 'count(*)' } },
      },
      decode,
    );
    expect(chain.push(entry(5, 0, { broken: true })).poison).toEqual([]);
    chain.push(entry(1, 1, {}));
    const flushed = chain.flush();
    expect(flushed.outputs.map((output) => [output.rowtime, output.values.n])).toEqual([[1, 1]]);
    expect(flushed.poison.map((poison) => [poison.entry.rowtime, poison.error.message])).toEqual([
      [5, 'value is not a JSON object'],
    ]);
    expect(chain.committedRowtime).toBe(5);
  });
});
