import { PoisonRecordError, TidemarkError } from './errors.js';
import type { TidemarkRecord } from './record.js';

/**
 * A record transform: returns the record (possibly changed), several records, or null/[] to
 * drop it. It may be async. It must be deterministic for exactly-once: a replayed record must
 * produce the same output. Throwing marks the record as poison, except a retriable
 * TidemarkError (a lookup service unreachable, say): that aborts the transaction and the
 * runtime rewinds and retries like any other retriable failure. Anything else it returns
 * (undefined, a string, an object that is not a record) makes the record poison too.
 */
export type Transform = (
  record: TidemarkRecord,
) =>
  | TidemarkRecord
  | readonly TidemarkRecord[]
  | null
  | Promise<TidemarkRecord | readonly TidemarkRecord[] | null>;

const labels = new WeakMap<Transform, string>();

/** Names `transform` in poison messages (e.g. `./enrich.ts#default`); returns it. */
export function labelTransform<T extends Transform>(transform: T, label: string): T {
  labels.set(transform, label);
  return transform;
}

function labelOf(step: Transform, index: number): string {
  return labels.get(step) ?? (step.name ? `${step.name} (step ${index + 1})` : `step ${index + 1}`);
}

/**
 * Chains transforms in order with flatMap semantics: each step receives every record the
 * previous step produced; `null` or `[]` drops a record. Every step's output is checked at its
 * boundary: a value that is not a record, an array of records or null, and any throw other
 * than a retriable TidemarkError, become a POISON_RECORD naming the step and what it returned
 * or threw. Returns undefined for no steps.
 */
export function composeTransforms(steps: readonly Transform[]): Transform | undefined {
  if (steps.length === 0) return undefined;
  return async (record) => {
    let current: TidemarkRecord[] = [record];
    for (const [index, step] of steps.entries()) {
      const next: TidemarkRecord[] = [];
      for (const item of current) {
        let result: unknown;
        try {
          result = await step(item);
        } catch (thrown) {
          if (TidemarkError.isInstance(thrown) && (thrown.retriable || thrown.code === 'POISON_RECORD'))
            throw thrown;
          throw new PoisonRecordError(`transform ${labelOf(step, index)} threw ${describeValue(thrown)}`, {
            fix: 'Fix the transform for this record, or let the poison policy route it.',
            cause: thrown,
          });
        }
        const problem = collectRecords(result, next);
        if (problem !== undefined) {
          throw new PoisonRecordError(
            `transform ${labelOf(step, index)} returned ${problem}; expected a record, an array of records, or null`,
            {
              fix: 'Return the record it got (changed with { ...record, value }), an array of records, or null to drop it.',
            },
          );
        }
      }
      current = next;
      if (current.length === 0) break;
    }
    return current;
  };
}

/** Appends the records of a step's `result` to `into`; returns what is wrong with it, if anything. */
function collectRecords(result: unknown, into: TidemarkRecord[]): string | undefined {
  if (result === null) return undefined;
  if (Array.isArray(result)) {
    for (const [index, item] of result.entries()) {
      const problem = recordProblem(item);
      if (problem !== undefined) return `an array whose item ${index} ${problem}`;
    }
    into.push(...(result as TidemarkRecord[]));
    return undefined;
  }
  const problem = recordProblem(result);
  if (problem !== undefined) return `${describeValue(result)}, which ${problem}`;
  into.push(result as TidemarkRecord);
  return undefined;
}

function isBytes(value: unknown): boolean {
  return value === null || value instanceof Uint8Array;
}

/** What makes `value` no record, or undefined for a record. */
function recordProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'is not a record object';
  const candidate = value as Record<string, unknown>;
  if (!isBytes(candidate.value))
    return `has a value that is ${describeValue(candidate.value)}, not bytes or null`;
  if (!isBytes(candidate.key)) return `has a key that is ${describeValue(candidate.key)}, not bytes or null`;
  if (typeof candidate.headers !== 'object' || candidate.headers === null) return 'has no headers object';
  for (const name in candidate.headers as Record<string, unknown>) {
    const header = (candidate.headers as Record<string, unknown>)[name];
    if (typeof header !== 'string')
      return `has header '${name}' that is ${describeValue(header)}, not a string`;
  }
  if (typeof candidate.rowtime !== 'number' || !Number.isFinite(candidate.rowtime))
    return `has a rowtime that is ${describeValue(candidate.rowtime)}, not a finite number`;
  if (typeof candidate.provenance !== 'object' || candidate.provenance === null)
    return 'has no provenance object';
  const position = candidate.position as { unit?: unknown } | null | undefined;
  if (typeof position !== 'object' || position === null || typeof position.unit !== 'string')
    return 'has no position (keep the position of the record it got)';
  return undefined;
}

/** A short, safe description of any value (never throws, at most ~120 characters). */
export function describeValue(value: unknown): string {
  let text: string;
  try {
    if (value === undefined) return 'undefined';
    if (value === null) return 'null';
    if (value instanceof Error) text = `${value.name}: ${value.message}`;
    else if (value instanceof Uint8Array) return `${value.byteLength} bytes`;
    else if (typeof value === 'string') text = `the string ${JSON.stringify(value)}`;
    else if (typeof value === 'object') {
      const keys = Object.keys(value);
      text = Array.isArray(value)
        ? `an array of ${value.length}`
        : `an object with ${keys.length === 0 ? 'no keys' : `keys ${keys.slice(0, 8).join(', ')}`}`;
    } else if (typeof value === 'symbol' || typeof value === 'function') text = `a ${typeof value}`;
    else text = `${typeof value} ${String(value)}`;
  } catch {
    text = `a ${typeof value} that cannot be printed`;
  }
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}
