import { describe, expect, it } from 'vitest';
import { stagesSpecOf, tsortConfigSchema, windowConfigSchema } from './schema.js';

describe('tsortConfigSchema', () => {
  it('reads the duration with the shared parser and defaults the rest', () => {
    expect(tsortConfigSchema.parse({ within: '2s' })).toEqual({
      within: 2_000,
      late: 'drop',
      maxHeld: 100_000,
    });
    expect(tsortConfigSchema.parse({ within: '500ms', late: 'dead-letter', maxHeld: 10 })).toEqual({
      within: 500,
      late: 'dead-letter',
      maxHeld: 10,
    });
  });

  it('rejects a missing or malformed bound, an unknown policy and unknown fields', () => {
    for (const input of [
      {},
      { within: 'soon' },
      { within: '2s', late: 'ignore' },
      { within: '2s', extra: 1 },
    ]) {
      expect(tsortConfigSchema.safeParse(input).success, JSON.stringify(input)).toBe(false);
    }
  });
});

describe('windowConfigSchema', () => {
  it('reads the seed window: one hour sliding SUM(price * quantity) per product', () => {
    const config = windowConfigSchema.parse({
      range: '1h',
      partitionBy: 'product_id',
      aggregates: { quantitySoldLastHour: 'sum(price * quantity)' },
    });
    expect(stagesSpecOf({ window: config, tsort: tsortConfigSchema.parse({ within: '2s' }) })).toEqual({
      tsort: { withinMs: 2_000, late: 'drop', maxHeld: 100_000 },
      window: {
        kind: 'sliding',
        rangeMs: 3_600_000,
        partitionBy: ['product_id'],
        aggregates: { quantitySoldLastHour: 'sum(price * quantity)' },
      },
    });
  });

  it('reads a tumbling window with several keys', () => {
    const config = windowConfigSchema.parse({
      tumble: '1m',
      partitionBy: ['a', 'b'],
      aggregates: { n: 'count(*)' },
    });
    expect(stagesSpecOf({ window: config }).window).toMatchObject({ kind: 'tumbling', sizeMs: 60_000 });
  });

  it('reports each problem at its path', () => {
    const issues = (input: unknown) =>
      windowConfigSchema
        .safeParse(input)
        .error?.issues.map((issue) => [issue.path.join('.'), issue.message]) ?? [];
    expect(issues({ range: '1h', tumble: '1m', aggregates: { n: 'count(*)' } })).toEqual([
      ['', 'set exactly one of range (sliding) or tumble'],
    ]);
    expect(issues({ aggregates: { n: 'count(*)' } })[0]?.[1]).toMatch(/exactly one/);
    expect(issues({ range: '1h', aggregates: {} })).toEqual([['aggregates', 'needs at least one aggregate']]);
    const bad = issues({
      range: '1h',
      partitionBy: 'a >',
      aggregates: { total: 'median(x)', 'bad name': 'count(*)' },
    });
    expect(bad.map(([path]) => path)).toEqual(['aggregates.bad name']);
    const expressions = issues({ range: '1h', partitionBy: ['a > b'], aggregates: { total: 'median(x)' } });
    expect(expressions.map(([path]) => path)).toEqual(['partitionBy.0', 'aggregates.total']);
    expect(expressions[1]?.[1]).toMatch(/not an aggregate call/);
  });
});
