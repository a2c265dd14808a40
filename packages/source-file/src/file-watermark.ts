import { type JsonValue, TidemarkError, type Watermark } from '@tidemark/sdk';
import { TOKEN_LENGTH } from './identity.js';

/** Watermark unit holding the tokens of finished files. */
export const FINISHED_UNIT = 'finished';
/** Prefix of the units that hold one file in progress each (`lane/0`, `lane/1`, …). */
export const LANE_PREFIX = 'lane/';

/**
 * Where reading of one file stands: the JSON value of a `lane/N` unit and the `next` of every
 * record position. `offset` is the byte offset after the last line read, `line` that line's
 * number (0 before the first). `dev`, `ino`, `birth` identify the file (decimal strings);
 * `head` is a hash of its first `headLength` bytes; `generation` counts truncations seen.
 */
export interface LaneState {
  readonly path: string;
  readonly offset: number;
  readonly line: number;
  readonly dev: string;
  readonly ino: string;
  readonly birth: string;
  readonly head: string;
  readonly headLength: number;
  readonly generation: number;
}

/** A file source watermark, decoded. */
export interface DecodedWatermark {
  /** Files in progress by lane number. */
  readonly lanes: Map<number, LaneState>;
  /** Tokens of finished files (see `finishedToken`). */
  readonly finished: Set<string>;
}

/** The unit name of lane `lane`. */
export function laneUnit(lane: number): string {
  return `${LANE_PREFIX}${lane}`;
}

/** The JSON value of the `finished` unit: tokens sorted and concatenated (fixed width). */
export function encodeFinished(finished: ReadonlySet<string>): JsonValue {
  const tokens = [...finished].sort();
  return { count: tokens.length, tokens: tokens.join('') };
}

/** Decodes a committed watermark; throws WATERMARK_INVALID when it was not written by this source. */
export function decodeWatermark(watermark: Watermark): DecodedWatermark {
  const lanes = new Map<number, LaneState>();
  const finished = new Set<string>();
  for (const [unit, value] of Object.entries(watermark)) {
    if (unit === FINISHED_UNIT) {
      for (const token of decodeFinished(value)) finished.add(token);
      continue;
    }
    if (!unit.startsWith(LANE_PREFIX) || !/^\d+$/.test(unit.slice(LANE_PREFIX.length))) {
      throw invalid(`unknown unit '${unit}'`);
    }
    if (value === null) continue;
    lanes.set(Number(unit.slice(LANE_PREFIX.length)), decodeLane(unit, value));
  }
  return { lanes, finished };
}

function decodeFinished(value: JsonValue): string[] {
  if (
    typeof value !== 'object' ||
    value === null ||
    Array.isArray(value) ||
    typeof value.tokens !== 'string'
  ) {
    throw invalid(`unit '${FINISHED_UNIT}' must be { count, tokens }`);
  }
  const text = value.tokens;
  if (text.length % TOKEN_LENGTH !== 0) throw invalid(`unit '${FINISHED_UNIT}' has a cut token`);
  const tokens: string[] = [];
  for (let index = 0; index < text.length; index += TOKEN_LENGTH)
    tokens.push(text.slice(index, index + TOKEN_LENGTH));
  return tokens;
}

function decodeLane(unit: string, value: JsonValue): LaneState {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalid(`unit '${unit}' is not an object`);
  const { path, offset, line, dev, ino, birth, head, headLength, generation } = value;
  const isCount = (candidate: JsonValue | undefined): candidate is number =>
    typeof candidate === 'number' && Number.isSafeInteger(candidate) && candidate >= 0;
  const isDecimal = (candidate: JsonValue | undefined): candidate is string =>
    typeof candidate === 'string' && /^\d+$/.test(candidate);
  if (
    typeof path !== 'string' ||
    !isCount(offset) ||
    !isCount(line) ||
    !isDecimal(dev) ||
    !isDecimal(ino) ||
    !isDecimal(birth) ||
    typeof head !== 'string' ||
    !isCount(headLength) ||
    !isCount(generation)
  ) {
    throw invalid(`unit '${unit}' is not a file position: ${JSON.stringify(value)}`);
  }
  return { path, offset, line, dev, ino, birth, head, headLength, generation };
}

function invalid(message: string): TidemarkError {
  return new TidemarkError('WATERMARK_INVALID', `file source watermark: ${message}`, {
    fix: 'The committed watermark was not written by a file source of this version; reset the pipeline watermark deliberately if the source changed type.',
  });
}
