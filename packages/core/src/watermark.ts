import { TidemarkError } from './errors.js';
import { type JsonValue, jsonEqual } from './json.js';
import type { SourcePosition } from './record.js';

/**
 * A source's resume position: a map from the source's unit of order (partition, shard, file,
 * queue) to the position *after* the last record committed in that unit. JSON-safe; bigints
 * are decimal strings. Units absent from the map start at the source's configured start.
 */
export type Watermark = Readonly<Record<string, JsonValue>>;

/** The watermarks of every source of a pipeline, keyed by source name. */
export type PipelineWatermarks = Readonly<Record<string, Watermark>>;

/** What a sink has durably committed for a pipeline. */
export interface CommittedState {
  /** Watermark per source name; a source without an entry has never committed. */
  readonly watermarks: PipelineWatermarks;
  /** Rowtime (epoch ms) of the last committed row, or null when nothing was committed yet. */
  readonly rowtime: number | null;
  /** When the commit happened (epoch ms), or null. */
  readonly committedAt: number | null;
}

export const EMPTY_COMMITTED_STATE: CommittedState = Object.freeze({
  watermarks: Object.freeze({}),
  rowtime: null,
  committedAt: null,
});

/** Merges `newer` over `older`: every unit of `newer` replaces the same unit in `older`. */
export function mergeWatermarks(older: Watermark | undefined, newer: Watermark | undefined): Watermark {
  if (!older) return newer ?? {};
  if (!newer) return older;
  return { ...older, ...newer };
}

/** Folds record positions into a watermark (last position per unit wins: positions arrive in order). */
export function advanceWatermark(base: Watermark, positions: Iterable<SourcePosition>): Watermark {
  let next: Record<string, JsonValue> | undefined;
  for (const position of positions) {
    next ??= { ...base };
    next[position.unit] = position.next;
  }
  return next ?? base;
}

/** True when both watermarks hold the same positions. */
export function watermarksEqual(a: Watermark | undefined, b: Watermark | undefined): boolean {
  return jsonEqual((a ?? {}) as JsonValue, (b ?? {}) as JsonValue);
}

/**
 * Compares two positions of the same unit when they are ordered scalars: numbers, or decimal
 * strings of integers (Kafka offsets, Kinesis sequence numbers). Returns <0, 0 or >0.
 * Throws WATERMARK_INVALID for positions that are not comparable this way.
 */
export function comparePositions(a: JsonValue, b: JsonValue): number {
  const bigA = toBigInt(a);
  const bigB = toBigInt(b);
  return bigA < bigB ? -1 : bigA > bigB ? 1 : 0;
}

function toBigInt(value: JsonValue): bigint {
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return BigInt(value);
  throw new TidemarkError('WATERMARK_INVALID', `position ${JSON.stringify(value)} is not an integer`);
}

/**
 * Serialises pipeline watermarks to a canonical JSON string (sorted keys), so equal
 * watermarks serialise identically.
 */
export function serializeWatermarks(watermarks: PipelineWatermarks): string {
  return JSON.stringify(sortKeys(watermarks as JsonValue));
}

/** Parses what {@link serializeWatermarks} wrote; throws WATERMARK_INVALID on anything else. */
export function parseWatermarks(text: string): PipelineWatermarks {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new TidemarkError('WATERMARK_INVALID', 'committed watermark is not valid JSON', { cause });
  }
  if (!isPlainObject(parsed) || !Object.values(parsed).every(isPlainObject)) {
    throw new TidemarkError(
      'WATERMARK_INVALID',
      'committed watermark is not a map of source → unit → position',
    );
  }
  return parsed as PipelineWatermarks;
}

function isPlainObject(value: unknown): value is Record<string, JsonValue> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function sortKeys(value: JsonValue): JsonValue {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  const sorted: Record<string, JsonValue> = {};
  for (const key of Object.keys(value).sort()) sorted[key] = sortKeys(value[key] as JsonValue);
  return sorted;
}
