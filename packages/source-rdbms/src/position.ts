import { type JsonValue, TidemarkError, type Watermark } from '@tidemark/sdk';

/**
 * A keyset position: the (queryCol, tieBreakCol) pair of the last row read, both as text.
 * `tieBreak: null` means "before every row whose queryCol is `queryValue`" (a horizon or a
 * time, not a row): reading resumes at `queryCol >= queryValue`.
 */
export interface RowPosition {
  readonly queryValue: string;
  readonly tieBreak: string | null;
}

/** The single unit of an rdbms source's watermark: the table name, or `query`. */
export function unitOf(table: string | undefined): string {
  return table ?? 'query';
}

/** Position as stored in the watermark: `{ "q": "<queryCol>", "k": "<tieBreak>" | null }`. */
export function encodePosition(position: RowPosition): JsonValue {
  return { q: position.queryValue, k: position.tieBreak };
}

/** Parses what {@link encodePosition} wrote; WATERMARK_INVALID on anything else. */
export function decodePosition(value: JsonValue): RowPosition {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const { q, k } = value as Record<string, JsonValue>;
    if (typeof q === 'string' && (typeof k === 'string' || k === null)) {
      return { queryValue: q, tieBreak: k };
    }
  }
  throw new TidemarkError('WATERMARK_INVALID', `rdbms position ${JSON.stringify(value)} is not {q, k}`, {
    fix: 'Reset the watermark with `tidemark watermarks reset` to a position like {"q":"123","k":"42"}.',
  });
}

/** The position of this source's unit in `watermark`, or undefined when the unit is absent. */
export function positionIn(watermark: Watermark | null, unit: string): RowPosition | undefined {
  const value = watermark?.[unit];
  return value === undefined ? undefined : decodePosition(value);
}
