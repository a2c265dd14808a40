import { parse } from 'csv-parse/sync';

/** The result of parsing one CSV record: its fields, or why it is not valid CSV. */
export type CsvParseResult = { readonly fields: string[] } | { readonly error: string };

/**
 * Parses one CSV record (RFC 4180, comma-separated) with csv-parse: a field may be quoted with
 * `"`, a quoted field may hold commas and newlines (the splitter keeps such a record whole), and
 * `""` inside it stands for one quote. A quoted field must end at a comma or at the end of the
 * record. Unquoted fields are taken verbatim (spaces kept, a stray quote inside kept as is).
 */
export function parseCsvRecord(text: string): CsvParseResult {
  let rows: string[][];
  try {
    rows = parse(text, { relax_column_count: true }) as string[][];
  } catch (error) {
    // A stray quote inside an unquoted field is kept as is; every other quote error stands.
    if ((error as { code?: string }).code !== 'INVALID_OPENING_QUOTE')
      return { error: error instanceof Error ? error.message : String(error) };
    try {
      rows = parse(text, { relax_column_count: true, relax_quotes: true }) as string[][];
    } catch (relaxed) {
      return { error: relaxed instanceof Error ? relaxed.message : String(relaxed) };
    }
  }
  if (rows.length === 0) return { fields: [''] };
  if (rows.length > 1) return { error: `one record expected, ${rows.length} found` };
  return { fields: rows[0]! };
}

/** @deprecated The former name of {@link parseCsvRecord}. */
export const parseCsvLine = parseCsvRecord;
