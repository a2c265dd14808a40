import { describe, expect, it } from 'vitest';
import type { TidemarkRecord } from '../record.js';
import { RecordStages } from './record-stages.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const record = (
  rowtime: number,
  offset: number,
  value: unknown,
  extra: Partial<TidemarkRecord> = {},
): TidemarkRecord => ({
  key: encoder.encode(`k${offset}`),
  value: typeof value === 'string' ? encoder.encode(value) : encoder.encode(JSON.stringify(value)),
  headers: { h: String(offset) },
  rowtime,
  provenance: { 'kafka.offset': String(offset) },
  position: { unit: 'orders/0', next: String(offset + 1) },
  ...extra,
});
const json = (bytes: Uint8Array | null) => (bytes === null ? null : JSON.parse(decoder.decode(bytes)));

describe('RecordStages', () => {
  it('adds the sliding aggregates to each record value, keeping key, headers, provenance and rowtime', () => {
    const stages = new RecordStages({
      tsort: { withinMs: 1_000, late: 'drop', maxHeld: 100 },
      window: {
        kind: 'sliding',
        rangeMs: 3_600_000,
        partitionBy: ['product_id'],
        aggregates: { total: 'sum(price * quantity)' },
      },
    });
    stages.push('orders', record(2_000, 0, { product_id: 1, price: 19.99, quantity: 3 }));
    stages.push('orders', record(1_500, 1, { product_id: 1, price: 0.01, quantity: 1 }));
    const { writes, poison } = stages.flush();
    expect(poison).toEqual([]);
    expect(
      writes.map((write) => [write.rowtime, json(write.value).total, decoder.decode(write.key!)]),
    ).toEqual([
      [1_500, 0.01, 'k1'],
      [2_000, 59.98, 'k0'],
    ]);
    expect(writes[1]).toMatchObject({ headers: { h: '0' }, provenance: { 'kafka.offset': '0' } });
    expect(json(writes[1]!.value)).toEqual({ product_id: 1, price: 19.99, quantity: 3, total: 59.98 });
    expect(stages.takeCommittable()).toEqual([
      { source: 'orders', position: { unit: 'orders/0', next: '2' } },
    ]);
    expect(stages.committedRowtime).toBe(2_000);
  });

  it('writes one new record per tumbling window and partition', () => {
    const stages = new RecordStages({
      window: {
        kind: 'tumbling',
        sizeMs: 60_000,
        partitionBy: ['product_id'],
        aggregates: { orders: 'count(*)' },
      },
    });
    stages.push('orders', record(1_000, 0, { product_id: 7 }));
    const { writes } = stages.push('orders', record(61_000, 1, { product_id: 7 }));
    expect(writes).toHaveLength(1);
    expect(json(writes[0]!.key)).toEqual([7]);
    expect(json(writes[0]!.value)).toEqual({ windowStart: 0, windowEnd: 60_000, product_id: 7, orders: 1 });
    expect(writes[0]).toMatchObject({ rowtime: 60_000, headers: {}, provenance: {} });
  });

  it('reports records the window cannot read as poison at their release, and routes late records to the dead letters', () => {
    const stages = new RecordStages({
      tsort: { withinMs: 100, late: 'dead-letter', maxHeld: 100 },
      window: { kind: 'sliding', rangeMs: 1_000, partitionBy: [], aggregates: { n: 'count(*)' } },
    });
    stages.push('orders', record(1_000, 0, 'not json'));
    stages.push('orders', record(1_050, 1, [1, 2]));
    stages.push('orders', record(1_060, 2, { ok: true }, { poison: 'bad CSV row' }));
    const late = stages.push('orders', record(500, 3, { late: true }));
    expect(late.writes).toEqual([]); // waits for the held records before it in its unit
    expect(stages.holds('orders', 'orders/0')).toBe(true);
    const { writes, poison } = stages.flush();
    expect(poison.map((item) => [item.source, item.record.rowtime, item.error.message])).toEqual([
      ['orders', 1_000, 'the record value is not JSON, so the window cannot read its fields'],
      ['orders', 1_050, 'the record value is not a JSON object, so the window cannot read its fields'],
      ['orders', 1_060, 'bad CSV row'],
    ]);
    expect(writes.map((write) => [write.rowtime, write.route])).toEqual([[500, 'dead-letter']]);
    expect(stages.holds('orders', 'orders/0')).toBe(false);
    expect(stages.stats()).toMatchObject({ released: 3, lateDeadLettered: 1, suppressed: 0 });
  });

  it('without a window, writes the records in rowtime order and hands source poison to the policy', () => {
    const stages = new RecordStages({ tsort: { withinMs: 100, late: 'drop', maxHeld: 100 } });
    stages.push('orders', record(30, 0, 'raw bytes are fine'));
    stages.push('orders', record(10, 1, 'x', { poison: 'undecodable' }));
    stages.push('orders', record(20, 2, 'y'));
    const { writes, poison } = stages.flush();
    expect(writes.map((write) => write.rowtime)).toEqual([20, 30]);
    expect(poison.map((item) => item.error.message)).toEqual(['undecodable']);
  });

  it('suppresses what a restart replays up to the committed rowtime', () => {
    const stages = new RecordStages(
      { tsort: { withinMs: 0, late: 'drop', maxHeld: 100 } },
      {
        committedRowtime: 20,
        committed: { orders: { 'orders/0': '1' } },
        replayStart: { orders: { 'orders/0': '1' } },
      },
    );
    stages.push('orders', record(20, 1, 'committed before the crash'));
    stages.push('orders', record(30, 2, 'new'));
    expect(stages.flush().writes.map((write) => write.rowtime)).toEqual([30]);
    expect(stages.stats().suppressed).toBe(1);
  });
});
