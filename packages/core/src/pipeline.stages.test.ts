import { describe, expect, it } from 'vitest';
import { TidemarkError } from './errors.js';
import { Pipeline, type PipelineResult } from './pipeline.js';
import type { SinkRecord, TidemarkRecord } from './record.js';
import type { Source } from './source.js';
import { type StagesSpec, stagesSpecOf, tsortConfigSchema, windowConfigSchema } from './stages/index.js';
import {
  FakeClock,
  type FakeEntry,
  FakeLog,
  FakeQueueBroker,
  FaultInjector,
  RedeliverFakeSource,
  randomInt,
  recordId,
  SeekableFakeSource,
  seededRandom,
} from './test-support/fakes.js';
import { MemorySinkStore, MemoryTransactionalSink } from './testing/memory-sink.js';
import type { Watermark } from './watermark.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Out-of-order entries: each at most `within` behind the newest before it, in one unit. */
function disordered(random: () => number, prefix: string, count: number, within: number): FakeEntry[] {
  let time = 1_000_000;
  const list: { entry: FakeEntry; sendAt: number }[] = [];
  for (let index = 0; index < count; index += 1) {
    time += randomInt(random, 0, 400);
    list.push({
      entry: { id: `${prefix}-${index}`, rowtime: time },
      sendAt: time + randomInt(random, 0, within),
    });
  }
  list.sort((a, b) => a.sendAt - b.sendAt);
  return list.map((item) => item.entry);
}

/** A seekable fake source that can also seek by time (first record of each unit at or after it). */
function timedSource(name: string, log: FakeLog, clock: FakeClock, faults?: FaultInjector) {
  const source = new SeekableFakeSource({ name, log, clock, ...(faults ? { faults } : {}) });
  return Object.assign(source, {
    async watermarkAt(target: { readonly latest: true } | { readonly time: number }): Promise<Watermark> {
      const watermark: Record<string, number> = {};
      for (const [unit, list] of log.units) {
        const index = 'time' in target ? list.findIndex((entry) => entry.rowtime >= target.time) : -1;
        watermark[unit] = index < 0 ? list.length : index;
      }
      return watermark;
    },
  });
}

/**
 * The same source with positions `{ n }` instead of integers (as an RDBMS row position or a
 * Kinesis stream state): the runtime cannot order them and replays from the warm-up position.
 */
function objectPositions(source: ReturnType<typeof timedSource>): Source {
  const wrap = (watermark: Watermark): Watermark =>
    Object.fromEntries(Object.entries(watermark).map(([unit, next]) => [unit, { n: next }]));
  const unwrap = (watermark: Watermark | null): Watermark | null =>
    watermark &&
    Object.fromEntries(Object.entries(watermark).map(([unit, next]) => [unit, (next as { n: number }).n]));
  return {
    name: source.name,
    provenance: source.provenance,
    capabilities: source.capabilities,
    open: (watermark) => source.open(unwrap(watermark)),
    seek: (watermark) => source.seek(unwrap(watermark)),
    acknowledge: (watermark) => source.acknowledge(unwrap(watermark)!),
    close: () => source.close(),
    async read(options) {
      const batch = await source.read(options);
      return {
        ...batch,
        records: batch.records.map((record) => ({
          ...record,
          position: { unit: record.position.unit, next: { n: record.position.next } },
        })),
      };
    },
    watermarkAt: async (target) => wrap(await source.watermarkAt(target)),
  };
}

/** Deterministic JSON value per record id; every ninth record is dropped by the transform. */
function toOrder(record: TidemarkRecord): TidemarkRecord | null {
  const number = Number(recordId(record).split('-')[1]);
  if (number % 9 === 4) return null;
  const value = {
    id: recordId(record),
    product: number % 3,
    price: (number % 17) + 0.01,
    quantity: 1 + (number % 4),
  };
  return { ...record, value: encoder.encode(JSON.stringify(value)) };
}

const spec: StagesSpec = stagesSpecOf({
  tsort: tsortConfigSchema.parse({ within: '1s' }),
  window: windowConfigSchema.parse({
    range: '5s',
    partitionBy: 'product',
    aggregates: { total: 'sum(price * quantity)', orders: 'count(*)' },
  }),
});

const rows = (records: readonly SinkRecord[]) =>
  records.filter((record) => record.route !== 'dead-letter').map((record) => decoder.decode(record.value!));

async function runOnce(list: FakeEntry[], stages: StagesSpec) {
  const clock = new FakeClock();
  const log = new FakeLog({ p0: list });
  log.seal();
  const store = new MemorySinkStore(clock.now);
  await new Pipeline({
    id: 'reference',
    sources: [timedSource('orders', log, clock)],
    sink: new MemoryTransactionalSink({ store }),
    transform: toOrder,
    stages,
    commit: { maxRecords: 1_000_000 },
    now: clock.now,
    sleep: clock.sleep,
  }).run();
  return store;
}

describe('pipeline with t-sort and a sliding window', () => {
  it('writes each row with the window sum of its partition, in rowtime order', async () => {
    const list: FakeEntry[] = [
      { id: 'o-1', rowtime: 1_000 },
      { id: 'o-0', rowtime: 500 },
      { id: 'o-3', rowtime: 7_000 },
      { id: 'o-6', rowtime: 9_000 },
    ];
    const store = await runOnce(list, spec);
    // o-0: product 0, 0.01 × 1; o-3: product 0, 3.01 × 4; o-6: product 0, 6.01 × 3 (o-0 left the 5 s range).
    expect(rows(store.records).map((row) => JSON.parse(row))).toEqual([
      { id: 'o-0', product: 0, price: 0.01, quantity: 1, total: 0.01, orders: 1 },
      { id: 'o-1', product: 1, price: 1.01, quantity: 2, total: 2.02, orders: 1 },
      { id: 'o-3', product: 0, price: 3.01, quantity: 4, total: 12.04, orders: 1 },
      { id: 'o-6', product: 0, price: 6.01, quantity: 3, total: 30.07, orders: 2 },
    ]);
    expect(store.state.watermarks).toEqual({ orders: { p0: 4 } });
    expect(store.state.rowtime).toBe(9_000);
  });

  for (const [seed, positions] of [
    [1, 'integer'],
    [2, 'integer'],
    [3, 'integer'],
    [4, 'integer'],
    [5, 'object'],
    [7, 'object'],
  ] as const) {
    it(`output after faults and crashes equals an uninterrupted run (seed ${seed}, ${positions} positions)`, async () => {
      const random = seededRandom(seed);
      const list = disordered(random, 'o', 300, 1_000);
      const reference = rows((await runOnce(list, spec)).records);
      expect(reference.length).toBeGreaterThan(200);

      const clock = new FakeClock();
      const log = new FakeLog({ p0: list });
      log.seal();
      const faults = new FaultInjector(random, {
        rates: {
          'source.read': 0.08,
          'sink.write': 0.05,
          'sink.commit': 0.05,
          'sink.commit.uncertain.landed': 0.03,
        },
        crashRate: 0.3,
      });
      const store = new MemorySinkStore(clock.now);
      let result: PipelineResult | undefined;
      let instances = 0;
      while (result?.reason !== 'ended') {
        instances += 1;
        if (instances > 60) faults.enabled = false;
        const pipeline = new Pipeline({
          id: 'chaos',
          sources: [
            positions === 'integer'
              ? timedSource('orders', log, clock, faults)
              : objectPositions(timedSource('orders', log, clock, faults)),
          ],
          sink: new MemoryTransactionalSink({ store, faults }),
          transform: toOrder,
          stages: spec,
          commit: { maxRecords: randomInt(random, 3, 40) },
          batch: { maxRecords: randomInt(random, 1, 25) },
          retry: { maxConsecutiveFailures: 3, initialBackoffMs: 10, maxBackoffMs: 50 },
          now: clock.now,
          sleep: clock.sleep,
        });
        try {
          result = await pipeline.run();
        } catch (error) {
          const crashed =
            TidemarkError.hasCode(error, 'RETRIES_EXHAUSTED') ||
            (TidemarkError.hasCode(error, 'CONNECTION_FAILED') && error.details?.injected !== undefined);
          if (!crashed) throw error;
          result = undefined;
        }
      }
      expect(faults.total).toBeGreaterThan(3);
      expect(store.transactions.length).toBeGreaterThan(5);
      expect(rows(store.records)).toEqual(reference);
    });
  }
});

describe('configurations the stages reject', () => {
  const clock = new FakeClock();
  const log = new FakeLog({ p0: [] });
  const sink = () => new MemoryTransactionalSink({ store: new MemorySinkStore(clock.now) });

  it('a window over a source that cannot seek by time', () => {
    const create = () =>
      new Pipeline({
        id: 'p',
        sources: [new SeekableFakeSource({ name: 'plain', log, clock })],
        sink: sink(),
        stages: spec,
      });
    expect(create).toThrow(/source 'plain' cannot seek by time/);
  });

  it('a window over a redelivered source, even one with watermarkAt; a tsort alone is accepted', () => {
    const queue = Object.assign(
      new RedeliverFakeSource({ name: 'queue', broker: new FakeQueueBroker('q', []), clock }),
      {
        watermarkAt: async () => ({}),
      },
    );
    expect(() => new Pipeline({ id: 'p', sources: [queue], sink: sink(), stages: spec })).toThrow(
      /source 'queue' cannot seek by time/,
    );
    const tsortOnly = stagesSpecOf({ tsort: tsortConfigSchema.parse({ within: '1s' }) });
    expect(
      new Pipeline({ id: 'p', sources: [queue], sink: sink(), stages: tsortOnly }).status().stages,
    ).toEqual({
      held: 0,
      released: 0,
      lateDropped: 0,
      lateDeadLettered: 0,
      suppressed: 0,
      suppressedLate: 0,
    });
  });

  it('a window over a rowtime promoted from a payload field', () => {
    const create = () =>
      new Pipeline({
        id: 'p',
        sources: [timedSource('orders', log, clock)],
        sink: sink(),
        stages: spec,
        rowtime: { from: 'field', field: 'at', format: 'auto' },
      });
    expect(create).toThrow(/not one promoted from a payload field/);
  });

  it('late: dead-letter without a dead-letter output', () => {
    const create = () =>
      new Pipeline({
        id: 'p',
        sources: [new SeekableFakeSource({ name: 'plain', log, clock })],
        sink: new MemoryTransactionalSink({ store: new MemorySinkStore(clock.now), deadLetter: false }),
        stages: stagesSpecOf({ tsort: tsortConfigSchema.parse({ within: '10ms', late: 'dead-letter' }) }),
      });
    expect(create).toThrow(/no dead-letter output/);
  });
});
