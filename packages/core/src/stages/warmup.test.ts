import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PipelineWatermarks } from '../watermark.js';
import {
  StageChain,
  type StageOutput,
  type StagesResume,
  type StagesSpec,
  type StagesStep,
} from './chain.js';
import type { TsortEntry } from './tsort.js';
import { earliestWatermarks, WarmupGate, warmupFrom } from './warmup.js';
import type { WindowSpec } from './window.js';

describe('warmupFrom', () => {
  const sliding: WindowSpec = {
    kind: 'sliding',
    rangeMs: 3_600_000,
    partitionBy: [],
    aggregates: { n: 'count(*)' },
  };
  const tumbling: WindowSpec = {
    kind: 'tumbling',
    sizeMs: 60_000,
    partitionBy: [],
    aggregates: { n: 'count(*)' },
  };

  it('needs the range before R (sliding) or the start of the window containing R (tumbling)', () => {
    expect(warmupFrom(sliding, 10_000_000)).toBe(6_400_000);
    expect(warmupFrom(tumbling, 150_000)).toBe(120_000);
    expect(warmupFrom(tumbling, 120_000)).toBe(120_000);
  });

  it('needs nothing before a first commit or without a window', () => {
    expect(warmupFrom(sliding, null)).toBeNull();
    expect(warmupFrom(undefined, 5)).toBeNull();
  });
});

describe('earliestWatermarks', () => {
  it('takes the earlier position per unit and keeps units that never committed out', () => {
    const committed = { orders: { 'orders/0': '40', 'orders/1': '7' } };
    const atWarmup = { orders: { 'orders/0': '12', 'orders/1': '9', 'orders/2': '3' } };
    expect(earliestWatermarks(committed, atWarmup)).toEqual({
      orders: { 'orders/0': '12', 'orders/1': '7' },
    });
    expect(earliestWatermarks(committed, {})).toEqual(committed);
  });
});

describe('WarmupGate', () => {
  it('suppresses outputs up to and including the committed rowtime, and covered late records', () => {
    const gate = new WarmupGate(100);
    expect([99, 100, 101].map((rowtime) => gate.admit(rowtime))).toEqual([false, false, true]);
    const late = { rowtime: 1, source: 's', position: { unit: 'u', next: 1 }, item: null };
    expect(gate.admitLate({ ...late, covered: true })).toBe(false);
    expect(gate.admitLate({ ...late, covered: false })).toBe(true);
    expect(gate.stats()).toEqual({ suppressed: 2, suppressedLate: 1 });
  });

  it('admits everything on a first start', () => {
    expect(new WarmupGate(null).admit(Number.NEGATIVE_INFINITY)).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// Exactly-once across crashes: a simulated source (units with integer offsets, seek by offset
// and by time like Kafka's offsetsForTimes), a simulated runtime (commit = outputs + positions +
// rowtime, atomically; crash = lose everything uncommitted), and a crash-free reference run.

interface Order {
  readonly id: number;
  readonly product: string;
  readonly price: number;
  readonly quantity: number;
}

interface LogRecord {
  readonly rowtime: number;
  readonly unit: string;
  readonly offset: number;
  readonly order: Order;
}

const WITHIN = 2_000;
/** A unit `orders/0` belongs to the source `orders`: two sources, three units. */
const sourceOf = (unit: string) => unit.split('/')[0]!;

const orderArbitrary = fc.record({
  gap: fc.constantFrom(0, 0, 250, 500, 1_000, 1_500),
  delay: fc.integer({ min: 0, max: WITHIN / 250 }).map((steps) => steps * 250),
  unit: fc.constantFrom('orders/0', 'orders/1', 'returns/0'),
  product: fc.constantFrom('p1', 'p2', 'p3'),
  cents: fc.integer({ min: 1, max: 99_999 }),
  quantity: fc.integer({ min: 1, max: 5 }),
});

/**
 * The source log in arrival order: event times grow, each record arrives up to `within` late,
 * so no record is beyond the t-sort bound. Offsets count per unit in arrival order.
 */
function makeLog(
  inputs: readonly {
    gap: number;
    delay: number;
    unit: string;
    product: string;
    cents: number;
    quantity: number;
  }[],
): LogRecord[] {
  let rowtime = 1_700_000_000_000;
  const events = inputs.map((input, id) => {
    rowtime += input.gap;
    return { ...input, id, rowtime, arrival: rowtime + input.delay };
  });
  events.sort((a, b) => a.arrival - b.arrival || a.id - b.id);
  const offsets = new Map<string, number>();
  return events.map((event) => {
    const offset = offsets.get(event.unit) ?? 0;
    offsets.set(event.unit, offset + 1);
    return {
      rowtime: event.rowtime,
      unit: event.unit,
      offset,
      order: { id: event.id, product: event.product, price: event.cents / 100, quantity: event.quantity },
    };
  });
}

const toEntry = (record: LogRecord): TsortEntry<Order> => ({
  rowtime: record.rowtime,
  source: sourceOf(record.unit),
  position: { unit: record.unit, next: String(record.offset + 1) },
  item: record.order,
});

const comparable = (output: StageOutput<Order>) => ({
  rowtime: output.rowtime,
  windowStart: output.windowStart,
  partition: output.partition,
  values: output.values,
  id: output.item?.id,
});

function referenceRun(spec: StagesSpec, log: readonly LogRecord[]) {
  const chain = new StageChain<Order>(spec, (order) => order as unknown as Record<string, unknown>);
  const outputs: StageOutput<Order>[] = [];
  for (const record of log) {
    const step = chain.push(toEntry(record));
    expect(step.late).toEqual([]);
    outputs.push(...step.outputs);
  }
  outputs.push(...chain.flush().outputs);
  return outputs.map(comparable);
}

/** Kafka's offsetsForTimes: the first offset of the unit whose rowtime is ≥ time (or its end). */
function offsetAtTime(log: readonly LogRecord[], unit: string, time: number): number {
  const records = log.filter((record) => record.unit === unit);
  return records.find((record) => record.rowtime >= time)?.offset ?? records.length;
}

interface Incarnation {
  readonly records: number;
  readonly commitEvery: number;
}

/** One open transaction: main outputs and dead-letter ids, lost on a crash. */
interface Transaction {
  readonly main: StageOutput<Order>[];
  readonly deadLetters: number[];
}

function crashingRun(spec: StagesSpec, log: readonly LogRecord[], incarnations: readonly Incarnation[]) {
  const committedOutputs: StageOutput<Order>[] = [];
  const committedDeadLetters: number[] = [];
  let watermarks: Record<string, Record<string, string>> = {};
  let committedRowtime: number | null = null;
  const units = [...new Set(log.map((record) => record.unit))];

  const start = (): { chain: StageChain<Order>; replay: LogRecord[] } => {
    const committed: PipelineWatermarks = watermarks;
    const warmup = warmupFrom(spec.window, committedRowtime);
    const atWarmup: Record<string, Record<string, string>> = {};
    if (warmup !== null) {
      for (const unit of units) {
        atWarmup[sourceOf(unit)] = {
          ...atWarmup[sourceOf(unit)],
          [unit]: String(offsetAtTime(log, unit, warmup)),
        };
      }
    }
    const replayStart = earliestWatermarks(committed, atWarmup);
    const resume: StagesResume = { committedRowtime, committed, replayStart };
    const from = (unit: string) => Number(replayStart[sourceOf(unit)]?.[unit] ?? 0);
    return {
      chain: new StageChain<Order>(spec, (order) => order as unknown as Record<string, unknown>, resume),
      replay: log.filter((record) => record.offset >= from(record.unit)),
    };
  };

  const write = (transaction: Transaction, step: StagesStep<Order>) => {
    transaction.main.push(...step.outputs);
    transaction.deadLetters.push(...step.late.map((late) => late.item.id));
  };
  const commit = (chain: StageChain<Order>, transaction: Transaction) => {
    committedOutputs.push(...transaction.main.splice(0));
    committedDeadLetters.push(...transaction.deadLetters.splice(0));
    const next = { ...watermarks };
    for (const { source, position } of chain.takeCommittable()) {
      expect(source).toBe(sourceOf(position.unit));
      const previous = next[source]?.[position.unit];
      // Watermarks only move forward, also while a replay warms up behind them.
      if (previous !== undefined) expect(Number(position.next)).toBeGreaterThanOrEqual(Number(previous));
      next[source] = { ...next[source], [position.unit]: String(position.next) };
    }
    watermarks = next;
    committedRowtime = chain.committedRowtime;
  };

  for (const incarnation of incarnations) {
    const { chain, replay } = start();
    const transaction: Transaction = { main: [], deadLetters: [] };
    for (const [index, record] of replay.slice(0, incarnation.records).entries()) {
      write(transaction, chain.push(toEntry(record)));
      if ((index + 1) % incarnation.commitEvery === 0) commit(chain, transaction);
    }
    // Crash: the open transaction is lost.
  }
  const { chain, replay } = start();
  const transaction: Transaction = { main: [], deadLetters: [] };
  for (const record of replay) write(transaction, chain.push(toEntry(record)));
  write(transaction, chain.flush());
  commit(chain, transaction);
  return { main: committedOutputs.map(comparable), deadLetters: committedDeadLetters };
}

const AGGREGATES = {
  total: 'sum(price * quantity)',
  orders: 'count(*)',
  highest: 'max(price)',
  lowest: 'min(price)',
  average: 'avg(price * quantity)',
};

const specArbitrary: fc.Arbitrary<StagesSpec> = fc.oneof(
  fc.constant<StagesSpec>({ tsort: { withinMs: WITHIN, late: 'drop', maxHeld: 10_000 } }),
  fc.constantFrom(1_000, 2_500, 10_000, 3_600_000).map<StagesSpec>((rangeMs) => ({
    tsort: { withinMs: WITHIN, late: 'drop', maxHeld: 10_000 },
    window: { kind: 'sliding', rangeMs, partitionBy: ['product'], aggregates: AGGREGATES },
  })),
  fc.constantFrom(1_000, 3_000, 60_000).map<StagesSpec>((sizeMs) => ({
    tsort: { withinMs: WITHIN, late: 'dead-letter', maxHeld: 10_000 },
    window: { kind: 'tumbling', sizeMs, partitionBy: ['product'], aggregates: AGGREGATES },
  })),
);

describe('exactly-once across crashes (property)', () => {
  it('the committed output of crashed and restarted runs equals one uninterrupted run, record by record', () => {
    fc.assert(
      fc.property(
        specArbitrary,
        fc.array(orderArbitrary, { minLength: 1, maxLength: 80 }),
        fc.array(
          fc.record({
            records: fc.integer({ min: 0, max: 40 }),
            commitEvery: fc.integer({ min: 1, max: 8 }),
          }),
          { maxLength: 6 },
        ),
        (spec, inputs, incarnations) => {
          const log = makeLog(inputs);
          expect(crashingRun(spec, log, incarnations).main).toEqual(referenceRun(spec, log));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('records beyond the bound across crashes (property)', () => {
  it('each dead-letter copy is committed at most once, and no record is in both outputs', () => {
    fc.assert(
      fc.property(
        fc.array(
          orderArbitrary.map((order) => ({ ...order, delay: order.delay * 3 })),
          { minLength: 1, maxLength: 80 },
        ),
        fc.array(
          fc.record({
            records: fc.integer({ min: 0, max: 40 }),
            commitEvery: fc.integer({ min: 1, max: 8 }),
          }),
          { maxLength: 6 },
        ),
        (inputs, incarnations) => {
          const spec: StagesSpec = { tsort: { withinMs: WITHIN, late: 'dead-letter', maxHeld: 10_000 } };
          const { main, deadLetters } = crashingRun(spec, makeLog(inputs), incarnations);
          const ids = [...main.map((output) => output.id), ...deadLetters];
          expect(new Set(ids).size).toBe(ids.length);
        },
      ),
      { numRuns: 300 },
    );
  });
});
