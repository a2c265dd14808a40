import type { JsonValue } from '../json.js';
import { comparePositions, type PipelineWatermarks, type Watermark } from '../watermark.js';
import type { LateEntry } from './tsort.js';
import type { WindowSpec } from './window.js';

/**
 * Exactly-once for stateful stages without a state store: after a restart the stages rebuild
 * their state from a replay of the source, and the outputs that were already committed are
 * suppressed. Everything here is pure; the runtime supplies the committed state and repositions
 * the sources (see docs/windows.md, "Runtime integration").
 *
 * What is committed with every transaction (besides the sink's data):
 * - per source unit, the t-sort's committable position (never past a record it still holds);
 * - the committed rowtime R: the largest rowtime of any output (or poison record) the stages
 *   emitted so far — for a tumbling window at least the t-sort frontier, since every window
 *   ending there is closed. Outputs leave the stages in rowtime order and a t-sort releases all
 *   rows of one rowtime in one step, so the committed output is exactly "every output with
 *   rowtime ≤ R" (see StageChain.committedRowtime).
 *
 * On restart:
 * 1. {@link warmupFrom} gives the rowtime the replay must start from so the window state can be
 *    rebuilt: R − range (sliding) or the start of the window containing R (tumbling); none for a
 *    t-sort alone.
 * 2. The runtime asks each source for the position of that rowtime (`watermarkAt({ time })`)
 *    and repositions it at {@link earliestWatermarks} of that and the committed watermark.
 * 3. The stages start with a {@link WarmupGate}: every main output (and poison record) with
 *    rowtime ≤ R is suppressed, and so is every late record's dead-letter copy that arrived at
 *    or before the committed position of its unit (`covered`, see tsort.ts). Everything else is
 *    emitted: the output continues exactly where the committed output ended.
 */

/** The rowtime a replay must start from to rebuild `window` state, or null when none is needed. */
export function warmupFrom(window: WindowSpec | undefined, committedRowtime: number | null): number | null {
  if (committedRowtime === null || window === undefined) return null;
  if (window.kind === 'sliding') return committedRowtime - window.rangeMs;
  return Math.floor(committedRowtime / window.sizeMs) * window.sizeMs;
}

/** Orders two positions of one unit: negative when `a` comes first. */
export type PositionOrder = (a: JsonValue, b: JsonValue) => number;

/**
 * Per source and unit, the earlier of the committed position and the position of the warm-up
 * rowtime. Units without a committed position keep the source's configured start (they never
 * produced a committed output), so they are left out. `order` defaults to integer positions
 * (Kafka offsets, byte positions, sequence numbers).
 */
export function earliestWatermarks(
  committed: PipelineWatermarks,
  atWarmup: PipelineWatermarks,
  order: PositionOrder = comparePositions,
): PipelineWatermarks {
  const result: Record<string, Watermark> = {};
  for (const [source, units] of Object.entries(committed)) {
    const merged: Record<string, JsonValue> = {};
    for (const [unit, position] of Object.entries(units)) {
      const warmup = atWarmup[source]?.[unit];
      merged[unit] = warmup !== undefined && order(warmup, position) < 0 ? warmup : position;
    }
    result[source] = merged;
  }
  return result;
}

export interface GateStats {
  readonly suppressed: number;
  readonly suppressedLate: number;
}

/**
 * Decides, after a restart, which outputs of a replay were already committed. Without a
 * committed rowtime (first start) it admits everything. Not concurrent.
 */
export class WarmupGate {
  readonly #committedRowtime: number | null;
  #suppressed = 0;
  #suppressedLate = 0;

  constructor(committedRowtime: number | null) {
    this.#committedRowtime = committedRowtime;
  }

  /** The committed rowtime R this gate suppresses up to (inclusive). */
  get committedRowtime(): number | null {
    return this.#committedRowtime;
  }

  /** True when an output (or poison record) of `rowtime` is new; false when it was committed. */
  admit(rowtime: number): boolean {
    if (this.#committedRowtime === null || rowtime > this.#committedRowtime) return true;
    this.#suppressed += 1;
    return false;
  }

  /** True when a late record's dead-letter copy is new; false when it was committed before. */
  admitLate(late: LateEntry<unknown>): boolean {
    if (!late.covered) return true;
    this.#suppressedLate += 1;
    return false;
  }

  stats(): GateStats {
    return { suppressed: this.#suppressed, suppressedLate: this.#suppressedLate };
  }
}
