/**
 * Regression helpers for delivery tests. Each throws an Error whose message names the first
 * offending ids (at most {@link SHOWN}), so a failing test says what went wrong, not just that
 * two arrays differ.
 */

const SHOWN = 10;

function list(values: readonly unknown[]): string {
  const shown = values
    .slice(0, SHOWN)
    .map((value) => JSON.stringify(typeof value === 'bigint' ? String(value) : value));
  return values.length > SHOWN ? `${shown.join(', ')} … (${values.length} in all)` : shown.join(', ');
}

/** Throws when an id occurs more than once, naming the first duplicated ids and their counts. */
export function assertNoDuplicates(ids: readonly (string | number | bigint)[], label = 'ids'): void {
  const counts = new Map<string, number>();
  const order: string[] = [];
  for (const id of ids) {
    const key = String(id);
    const count = counts.get(key) ?? 0;
    if (count === 1) order.push(key);
    counts.set(key, count + 1);
  }
  if (order.length > 0) {
    const described = order.slice(0, SHOWN).map((key) => `${JSON.stringify(key)} ×${counts.get(key)}`);
    throw new Error(
      `${label}: ${order.length} duplicated id(s) among ${ids.length}: ${described.join(', ')}${order.length > SHOWN ? ' …' : ''}`,
    );
  }
}

/**
 * Throws unless `ids` are consecutive integers, each one more than the previous (in the given
 * order), starting at `start` when given. Ids may be numbers, bigints or decimal strings,
 * optionally with a common non-numeric prefix (`order-17`). Names the first gap or step back.
 */
export function assertContiguous(
  ids: readonly (string | number | bigint)[],
  options: { start?: number | bigint; label?: string } = {},
): void {
  const label = options.label ?? 'ids';
  const problems: string[] = [];
  let previous: bigint | undefined;
  let prefix: string | undefined;
  for (const [index, id] of ids.entries()) {
    const match = /^(.*?)(\d+)$/.exec(String(id));
    if (!match)
      throw new Error(
        `${label}: id ${JSON.stringify(String(id))} at index ${index} does not end in an integer`,
      );
    const [, idPrefix = '', digits = ''] = match;
    if (prefix === undefined) prefix = idPrefix;
    else if (prefix !== idPrefix)
      problems.push(
        `index ${index}: ${JSON.stringify(String(id))} changes the prefix from ${JSON.stringify(prefix)}`,
      );
    const value = BigInt(digits);
    if (previous === undefined) {
      if (options.start !== undefined && value !== BigInt(options.start)) {
        problems.push(`starts at ${value}, expected ${options.start}`);
      }
    } else if (value !== previous + 1n) {
      problems.push(
        value > previous + 1n
          ? `gap after ${previous}: missing ${previous + 1n}${value - previous > 2n ? `..${value - 1n}` : ''} (index ${index})`
          : `${value} follows ${previous} (index ${index}): duplicate or step back`,
      );
    }
    previous = value;
    if (problems.length >= SHOWN) break;
  }
  if (problems.length > 0) throw new Error(`${label} are not contiguous: ${problems.join('; ')}`);
}

/**
 * Throws unless `actual` holds every id of `expected` exactly once and nothing else (order
 * ignored). Names duplicates, missing ids (gaps) and unexpected ids.
 */
export function assertExactlyOnce(
  actual: readonly string[],
  expected: readonly string[],
  label = 'ids',
): void {
  assertNoDuplicates(actual, label);
  const actualSet = new Set(actual);
  const expectedSet = new Set(expected);
  const missing = expected.filter((id) => !actualSet.has(id));
  const unexpected = actual.filter((id) => !expectedSet.has(id));
  const problems: string[] = [];
  if (missing.length > 0) problems.push(`${missing.length} missing: ${list(missing)}`);
  if (unexpected.length > 0) problems.push(`${unexpected.length} unexpected: ${list(unexpected)}`);
  if (problems.length > 0) {
    throw new Error(
      `${label}: expected ${expected.length} ids exactly once, got ${actual.length}; ${problems.join('; ')}`,
    );
  }
}
