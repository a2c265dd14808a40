/** SQL text the sink sends, built from validated names. Pure: no I/O. */

/** Quotes an identifier: `"name"`, doubling inner quotes. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** `"schema"."name"`. */
export function qualified(schema: string, name: string): string {
  return `${quoteIdentifier(schema)}.${quoteIdentifier(name)}`;
}

/** The largest number of bind parameters one statement may carry in the wire protocol. */
export const MAX_PARAMETERS = 65_535;

/** `INSERT INTO t (c…) VALUES ($1,…),(…)` for `rows` rows, with `ON CONFLICT (key) DO UPDATE` when `key` is given. */
export function insertStatement(
  table: string,
  columns: readonly string[],
  rows: number,
  upsertKey: readonly string[] = [],
): string {
  const width = columns.length;
  const tuples: string[] = new Array(rows);
  for (let row = 0; row < rows; row += 1) {
    const placeholders: string[] = new Array(width);
    for (let column = 0; column < width; column += 1) placeholders[column] = `$${row * width + column + 1}`;
    tuples[row] = `(${placeholders.join(',')})`;
  }
  let text = `INSERT INTO ${table} (${columns.map(quoteIdentifier).join(',')}) VALUES ${tuples.join(',')}`;
  if (upsertKey.length > 0) {
    const updated = columns.filter((column) => !upsertKey.includes(column));
    text +=
      updated.length === 0
        ? ` ON CONFLICT (${upsertKey.map(quoteIdentifier).join(',')}) DO NOTHING`
        : ` ON CONFLICT (${upsertKey.map(quoteIdentifier).join(',')}) DO UPDATE SET ${updated
            .map((column) => `${quoteIdentifier(column)} = EXCLUDED.${quoteIdentifier(column)}`)
            .join(', ')}`;
  }
  return text;
}

/** `COPY t (c…) FROM STDIN` in the text format. */
export function copyStatement(table: string, columns: readonly string[]): string {
  return `COPY ${table} (${columns.map(quoteIdentifier).join(',')}) FROM STDIN`;
}

/**
 * Appends one row in COPY text format to `parts`: tab-separated, `\N` for NULL, backslash,
 * tab, newline and carriage return escaped.
 */
export function copyLine(values: readonly (string | null)[]): string {
  let line = '';
  for (let index = 0; index < values.length; index += 1) {
    if (index > 0) line += '\t';
    const value = values[index];
    line += value === null || value === undefined ? '\\N' : escapeCopy(value);
  }
  return `${line}\n`;
}

const NEEDS_ESCAPE = /[\\\t\n\r]/;

function escapeCopy(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value
    .replaceAll('\\', '\\\\')
    .replaceAll('\t', '\\t')
    .replaceAll('\n', '\\n')
    .replaceAll('\r', '\\r');
}
