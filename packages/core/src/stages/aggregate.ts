import { TidemarkError } from '../errors.js';
import { type Decimal, decimalToNumber, ZERO } from './decimal.js';
import { Deque } from './deque.js';
import { type CompiledExpression, compileExpression, evaluateDecimal, type Fields } from './expression.js';

/** The aggregate functions a window computes. */
export const AGGREGATE_FUNCTIONS = ['sum', 'count', 'min', 'max', 'avg'] as const;
export type AggregateFunction = (typeof AGGREGATE_FUNCTIONS)[number];

/** One output column of a window: `total: sum(price * quantity)`. */
export interface AggregateSpec {
  /** Output column name. */
  readonly name: string;
  readonly function: AggregateFunction;
  /** The text as configured, for messages. */
  readonly text: string;
  /** The argument expression; null for `count(*)` / `count()` (counts rows). */
  readonly argument: CompiledExpression | null;
  /** The argument's text (`price * quantity`), or `*`. */
  readonly argumentText: string;
}

const CALL = /^\s*([A-Za-z]+)\s*\(([\s\S]*)\)\s*$/;

/**
 * Parses `sum(price * quantity)`, `count(*)`, `AVG(price)`… (function names in any case).
 * Throws CONFIG_INVALID naming the column for anything else.
 */
export function parseAggregate(name: string, text: string): AggregateSpec {
  const match = CALL.exec(text);
  const fn = match?.[1]?.toLowerCase();
  if (!match || !AGGREGATE_FUNCTIONS.includes(fn as AggregateFunction)) {
    throw new TidemarkError('CONFIG_INVALID', `aggregate '${name}': '${text}' is not an aggregate call`, {
      fix: `Write one of ${AGGREGATE_FUNCTIONS.map((f) => `${f}(…)`).join(', ')}, e.g. sum(price * quantity) or count(*).`,
      details: { aggregate: name },
    });
  }
  const argumentText = match[2]!.trim();
  if (fn === 'count' && (argumentText === '' || argumentText === '*')) {
    return { name, function: 'count', text, argument: null, argumentText: '*' };
  }
  if (argumentText === '') {
    throw new TidemarkError('CONFIG_INVALID', `aggregate '${name}': ${fn}() needs an argument`, {
      fix: `Give ${fn} an expression of fields, e.g. ${fn}(price * quantity).`,
      details: { aggregate: name },
    });
  }
  return {
    name,
    function: fn as AggregateFunction,
    text,
    argument: compileExpression(argumentText),
    argumentText,
  };
}

/** Parses every configured aggregate, in configuration order (which is the output column order). */
export function parseAggregates(aggregates: Readonly<Record<string, string>>): AggregateSpec[] {
  return Object.entries(aggregates).map(([name, text]) => parseAggregate(name, text));
}

const ONE_ROW: Decimal = ZERO.plus(1);

/** The aggregate's input value of one row: null is SQL NULL (ignored by every function but count(*)). */
export function aggregateInput(spec: AggregateSpec, fields: Fields): Decimal | null {
  return spec.argument === null ? ONE_ROW : evaluateDecimal(spec.argument, fields, spec.argumentText);
}

/**
 * Running state of one aggregate over a window.
 *
 * Call contract: `add` in rowtime order; for a sliding window, `remove(value)` for each row that
 * leaves (oldest first), then `evictThrough(bound)` with the same bound. Results: sum, min, max
 * and avg of no values are null (as in SQL); count is 0.
 */
export interface Accumulator {
  add(rowtime: number, value: Decimal | null): void;
  /** The row with `value` left the window (invertible functions only: sum, count, avg). */
  remove(value: Decimal | null): void;
  /** Rows with rowtime ≤ `bound` left the window (min and max drop their candidates). */
  evictThrough(bound: number): void;
  result(): number | null;
}

export function createAccumulator(fn: AggregateFunction): Accumulator {
  switch (fn) {
    case 'sum':
      return new SumAccumulator(false);
    case 'avg':
      return new SumAccumulator(true);
    case 'count':
      return new CountAccumulator();
    case 'min':
      return new ExtremumAccumulator(-1);
    case 'max':
      return new ExtremumAccumulator(1);
  }
}

/** Exact running sum (and count, for AVG): adding then removing a row restores the state exactly. */
class SumAccumulator implements Accumulator {
  #sum: Decimal = ZERO;
  #count = 0;
  constructor(readonly average: boolean) {}

  add(_rowtime: number, value: Decimal | null): void {
    if (value === null) return;
    this.#sum = this.#sum.plus(value);
    this.#count += 1;
  }

  remove(value: Decimal | null): void {
    if (value === null) return;
    this.#sum = this.#sum.minus(value);
    this.#count -= 1;
  }

  evictThrough(): void {}

  result(): number | null {
    if (this.#count === 0) return null;
    return decimalToNumber(this.average ? this.#sum.div(this.#count) : this.#sum);
  }
}

class CountAccumulator implements Accumulator {
  #count = 0;

  add(_rowtime: number, value: Decimal | null): void {
    if (value !== null) this.#count += 1;
  }

  remove(value: Decimal | null): void {
    if (value !== null) this.#count -= 1;
  }

  evictThrough(): void {}

  result(): number {
    return this.#count;
  }
}

/**
 * MIN (direction -1) or MAX (direction 1) over a sliding window with a monotonic deque: it keeps
 * only rows that can still become the extremum (each newer than and strictly better than the
 * next), so add and evict are O(1) amortised and the answer is the front. No rescans.
 */
class ExtremumAccumulator implements Accumulator {
  readonly #candidates = new Deque<{ readonly rowtime: number; readonly value: Decimal }>();
  constructor(readonly direction: 1 | -1) {}

  add(rowtime: number, value: Decimal | null): void {
    if (value === null) return;
    // A newer row at least as good makes every older, no-better candidate useless.
    while (this.#candidates.length > 0 && this.#candidates.last!.value.cmp(value) * this.direction <= 0) {
      this.#candidates.pop();
    }
    this.#candidates.push({ rowtime, value });
  }

  remove(): void {}

  evictThrough(bound: number): void {
    while (this.#candidates.length > 0 && this.#candidates.first!.rowtime <= bound) this.#candidates.shift();
  }

  result(): number | null {
    const best = this.#candidates.first;
    return best === undefined ? null : decimalToNumber(best.value);
  }
}
