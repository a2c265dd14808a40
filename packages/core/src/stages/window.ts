import { TidemarkError } from '../errors.js';
import {
  type Accumulator,
  type AggregateSpec,
  aggregateInput,
  createAccumulator,
  parseAggregates,
} from './aggregate.js';
import type { Decimal } from './decimal.js';
import { Deque } from './deque.js';
import { type CompiledExpression, compileExpression, type Fields, toPlainValue } from './expression.js';

/** A window as configured, durations in milliseconds. */
export type WindowSpec = (
  | { readonly kind: 'sliding'; readonly rangeMs: number }
  | { readonly kind: 'tumbling'; readonly sizeMs: number }
) & {
  /** Expressions whose values partition the rows (empty: one partition). */
  readonly partitionBy: readonly string[];
  /** Output column → aggregate call, e.g. `{ total: 'sum(price * quantity)' }`. */
  readonly aggregates: Readonly<Record<string, string>>;
};

/** One row entering a window: in rowtime order (a t-sort before the window guarantees it). */
export interface WindowRow<T> {
  readonly rowtime: number;
  /** The decoded record value the expressions read. */
  readonly fields: Fields;
  readonly item: T;
}

/** One output row. */
export interface WindowOutput<T> {
  /** The input row's rowtime (sliding) or the window end (tumbling). */
  readonly rowtime: number;
  /** Values of the `partitionBy` expressions, in order. */
  readonly partition: readonly unknown[];
  /** Aggregate column → value (null: no non-null input, as SQL). */
  readonly values: Readonly<Record<string, number | null>>;
  /** Tumbling: the window start (inclusive); the window is [windowStart, rowtime). */
  readonly windowStart?: number;
  /** Sliding: the input row this output extends. */
  readonly item?: T;
}

/**
 * A window stage. Call contract: `push` rows in rowtime order (equal rowtimes allowed), then
 * `advance(frontier)` once the t-sort reports a frontier (no later row has a smaller rowtime);
 * `flush()` at the end of bounded input. Outputs come in rowtime order. A row whose expression
 * fails throws before any state changes, so the caller may skip it (poison policy) and go on.
 */
export interface WindowStage<T> {
  readonly kind: WindowSpec['kind'];
  push(row: WindowRow<T>): WindowOutput<T>[];
  advance(frontier: number): WindowOutput<T>[];
  flush(): WindowOutput<T>[];
  /** Partitions currently holding state (for metrics and tests). */
  readonly partitions: number;
}

export function createWindow<T>(spec: WindowSpec): WindowStage<T> {
  const aggregates = parseAggregates(spec.aggregates);
  if (aggregates.length === 0) {
    throw new TidemarkError('CONFIG_INVALID', 'a window needs at least one aggregate', {
      fix: "Add an aggregate, e.g. aggregates: { total: 'sum(price * quantity)' }.",
    });
  }
  const partitionBy = spec.partitionBy.map((text) => compileExpression(text));
  return spec.kind === 'sliding'
    ? new SlidingWindow<T>(positive(spec.rangeMs, 'range'), partitionBy, aggregates)
    : new TumblingWindow<T>(positive(spec.sizeMs, 'tumble'), partitionBy, aggregates);
}

interface Evaluated {
  readonly key: string;
  readonly partition: readonly unknown[];
  readonly inputs: readonly (Decimal | null)[];
}

abstract class WindowBase<T> {
  #lastRowtime = Number.NEGATIVE_INFINITY;
  constructor(
    readonly partitionBy: readonly CompiledExpression[],
    readonly aggregates: readonly AggregateSpec[],
  ) {}

  /** Evaluates every expression of a row; throws (poison) before any state changes. */
  protected evaluate(row: WindowRow<T>): Evaluated {
    if (row.rowtime < this.#lastRowtime) {
      throw new TidemarkError(
        'ILLEGAL_STATE',
        `window input out of order: rowtime ${row.rowtime} after ${this.#lastRowtime}`,
        { fix: 'Put a tsort stage before the window (the runtime does so by default).' },
      );
    }
    const partition = this.partitionBy.map((expression) => toPlainValue(expression(row.fields)));
    const inputs = this.aggregates.map((spec) => aggregateInput(spec, row.fields));
    this.#lastRowtime = row.rowtime;
    return { key: JSON.stringify(partition), partition, inputs };
  }

  protected results(accumulators: readonly Accumulator[]): Record<string, number | null> {
    const values: Record<string, number | null> = {};
    this.aggregates.forEach((spec, index) => {
      values[spec.name] = accumulators[index]!.result();
    });
    return values;
  }
}

interface SlidingPartition {
  readonly rows: Deque<{ readonly rowtime: number; readonly inputs: readonly (Decimal | null)[] }>;
  readonly accumulators: Accumulator[];
}

/**
 * Sliding window (`RANGE INTERVAL … PRECEDING`): one output per row, aggregating the rows of
 * its partition with rowtime in (rowtime − range, rowtime] that entered before it, itself
 * included. The lower edge is exclusive: a row exactly `range` older has left. Rows with equal
 * rowtime are aggregated cumulatively in release order (each sees the equal rows before it).
 */
class SlidingWindow<T> extends WindowBase<T> implements WindowStage<T> {
  readonly kind = 'sliding';
  readonly #partitions = new Map<string, SlidingPartition>();
  #sweptAt = Number.NEGATIVE_INFINITY;

  constructor(
    readonly rangeMs: number,
    partitionBy: readonly CompiledExpression[],
    aggregates: readonly AggregateSpec[],
  ) {
    super(partitionBy, aggregates);
  }

  get partitions(): number {
    return this.#partitions.size;
  }

  push(row: WindowRow<T>): WindowOutput<T>[] {
    const { key, partition, inputs } = this.evaluate(row);
    let state = this.#partitions.get(key);
    if (!state) {
      state = {
        rows: new Deque(),
        accumulators: this.aggregates.map((spec) => createAccumulator(spec.function)),
      };
      this.#partitions.set(key, state);
    }
    this.#evict(state, row.rowtime - this.rangeMs);
    state.rows.push({ rowtime: row.rowtime, inputs });
    inputs.forEach((input, index) => {
      state.accumulators[index]!.add(row.rowtime, input);
    });
    return [{ rowtime: row.rowtime, partition, values: this.results(state.accumulators), item: row.item }];
  }

  /** Frees partitions whose rows all fell out of every future window (no outputs). */
  advance(frontier: number): WindowOutput<T>[] {
    if (frontier - this.#sweptAt < this.rangeMs / 8) return [];
    this.#sweptAt = frontier;
    const bound = frontier - this.rangeMs;
    for (const [key, state] of this.#partitions) {
      this.#evict(state, bound);
      if (state.rows.length === 0) this.#partitions.delete(key);
    }
    return [];
  }

  flush(): WindowOutput<T>[] {
    return [];
  }

  #evict(state: SlidingPartition, bound: number): void {
    while (state.rows.length > 0 && state.rows.first!.rowtime <= bound) {
      const leaving = state.rows.shift()!;
      leaving.inputs.forEach((input, index) => {
        state.accumulators[index]!.remove(input);
      });
    }
    for (const accumulator of state.accumulators) accumulator.evictThrough(bound);
  }
}

interface OpenWindow {
  readonly key: string;
  readonly start: number;
  readonly end: number;
  readonly partition: readonly unknown[];
  readonly accumulators: Accumulator[];
}

/**
 * Tumbling window: rows fall into [start, start + size) windows aligned to the Unix epoch
 * (a 1m window starts on the minute, UTC). A window emits one output per partition that had
 * rows, with rowtime = its end, once no row below its end can come: when a row at or after the
 * end is pushed, or the frontier reaches the end. Windows without rows emit nothing.
 */
class TumblingWindow<T> extends WindowBase<T> implements WindowStage<T> {
  readonly kind = 'tumbling';
  readonly #open = new Map<string, OpenWindow>();
  /** Open windows in the order they opened, which (rows being sorted) is the order of their ends. */
  readonly #byEnd = new Deque<OpenWindow>();

  constructor(
    readonly sizeMs: number,
    partitionBy: readonly CompiledExpression[],
    aggregates: readonly AggregateSpec[],
  ) {
    super(partitionBy, aggregates);
  }

  get partitions(): number {
    return this.#open.size;
  }

  push(row: WindowRow<T>): WindowOutput<T>[] {
    const { key, partition, inputs } = this.evaluate(row);
    const outputs = this.advance(row.rowtime);
    let window = this.#open.get(key);
    if (!window) {
      const start = Math.floor(row.rowtime / this.sizeMs) * this.sizeMs;
      window = {
        key,
        start,
        end: start + this.sizeMs,
        partition,
        accumulators: this.aggregates.map((spec) => createAccumulator(spec.function)),
      };
      this.#open.set(key, window);
      this.#byEnd.push(window);
    }
    inputs.forEach((input, index) => {
      window.accumulators[index]!.add(row.rowtime, input);
    });
    return outputs;
  }

  /** Closes every window whose end is at or before `frontier`, in order of their ends. */
  advance(frontier: number): WindowOutput<T>[] {
    const outputs: WindowOutput<T>[] = [];
    while (this.#byEnd.length > 0 && this.#byEnd.first!.end <= frontier) {
      const window = this.#byEnd.shift()!;
      this.#open.delete(window.key);
      outputs.push({
        rowtime: window.end,
        windowStart: window.start,
        partition: window.partition,
        values: this.results(window.accumulators),
      });
    }
    return outputs;
  }

  flush(): WindowOutput<T>[] {
    return this.advance(Number.POSITIVE_INFINITY);
  }
}

function positive(milliseconds: number, name: string): number {
  if (!(milliseconds > 0) || !Number.isFinite(milliseconds)) {
    throw new TidemarkError('CONFIG_INVALID', `window ${name} must be a positive duration`, {
      fix: `Set window.${name} to a duration like '1m' or '1h'.`,
    });
  }
  return milliseconds;
}
