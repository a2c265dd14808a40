import BigModule from 'big.js';

/**
 * Exact decimal arithmetic for window aggregates and stage expressions.
 *
 * Why not JS numbers: a sliding SUM adds every row as it enters and subtracts it as it leaves.
 * In binary floating point `(a + b + c) - a` is not always `b + c`, so the running sum of a
 * window would depend on the window's history — and after a restart the state is rebuilt from a
 * shorter history, so the sums would differ in the last digits from a run without a crash.
 * Exact decimals make every aggregate a function of the rows in the window only.
 *
 * Semantics: a number is taken at its shortest decimal representation (what `String(x)` and
 * `JSON.stringify` print: 19.99 is exactly 19.99); decimal strings ("19.99") are read exactly.
 * `+ - *` are exact; `/` and AVG round to {@link DIVISION_DECIMAL_PLACES} places, half to even.
 * Results leave the stage as the JS number nearest to the exact decimal.
 */
export type Decimal = BigModule.Big;

/** A private Big constructor: its precision settings never leak into other users of big.js. */
const DecimalConstructor: BigModule.BigConstructor = BigModule();
/** Decimal places kept by `/` and AVG. */
export const DIVISION_DECIMAL_PLACES = 20;
DecimalConstructor.DP = DIVISION_DECIMAL_PLACES;
DecimalConstructor.RM = DecimalConstructor.roundHalfEven;

const DECIMAL_TEXT = /^\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?\s*$/i;

export const ZERO: Decimal = new DecimalConstructor(0);

/** True for a value big.js made (a decimal produced by an expression). */
export function isDecimal(value: unknown): value is Decimal {
  return value instanceof DecimalConstructor;
}

/**
 * Converts a field value to a decimal: finite numbers, decimal strings and decimals; null and
 * undefined give null (SQL NULL: skipped by aggregates). Anything else returns undefined, which
 * callers report as a type error naming the expression.
 */
export function toDecimal(value: unknown): Decimal | null | undefined {
  if (value === null || value === undefined) return null;
  if (isDecimal(value)) return value;
  if (typeof value === 'number') return Number.isFinite(value) ? new DecimalConstructor(value) : undefined;
  if (typeof value === 'string' && DECIMAL_TEXT.test(value)) return new DecimalConstructor(value.trim());
  return undefined;
}

/** Parses the text of a numeric literal exactly. */
export function decimalFromLiteral(text: string): Decimal {
  return new DecimalConstructor(text);
}

/** The JS number nearest to an exact decimal (zero is always +0). */
export function decimalToNumber(value: Decimal): number {
  const number = value.toNumber();
  return number === 0 ? 0 : number;
}
