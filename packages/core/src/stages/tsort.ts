import { TidemarkError } from '../errors.js';
import { type JsonValue, jsonEqual } from '../json.js';
import type { SourcePosition } from '../record.js';
import { comparePositions, type PipelineWatermarks } from '../watermark.js';
import { Deque } from './deque.js';
import { Heap } from './heap.js';

/** What happens to a record that arrives more than `within` behind the newest rowtime seen. */
export type LatePolicy = 'drop' | 'dead-letter';

/** One record entering the t-sort: its rowtime, where it came from, and the caller's payload. */
export interface TsortEntry<T> {
  readonly rowtime: number;
  /** The source's name (keys its watermark). */
  readonly source: string;
  readonly position: SourcePosition;
  readonly item: T;
}

/** A record beyond the bound under the `dead-letter` policy. */
export interface LateEntry<T> extends TsortEntry<T> {
  /**
   * True when the record arrived at or before the committed watermark of its unit during a
   * replay after a restart: its dead-letter copy was already committed, the caller suppresses it.
   */
  readonly covered: boolean;
}

/** What one `push` (or `flush`) produced. */
export interface TsortStep<T> {
  /** Records now in order, to pass downstream in this order. */
  readonly released: TsortEntry<T>[];
  /**
   * Late records under the `dead-letter` policy (empty under `drop`), in their unit's order. A
   * late record is returned once every earlier record of its unit is released, i.e. in the same
   * step as the committable position that covers it: so its dead-letter copy and that position
   * commit in the same transaction, and a replay knows exactly which copies were committed.
   */
  readonly late: LateEntry<T>[];
  /**
   * Every record with a rowtime below this has been released or judged late, and every later
   * record below it will be late: windows ending at or before it can close.
   */
  readonly frontier: number;
}

/** Where a replay after a restart started, and what was committed before it (see warmup.ts). */
export interface ResumePoint {
  /** The committed watermark of every source. */
  readonly committed: PipelineWatermarks;
  /** Where each source was repositioned for the replay: at or before `committed`, per unit. */
  readonly replayStart: PipelineWatermarks;
}

export interface TsortOptions {
  /** The bound (ms): a record may arrive this far behind the newest rowtime and still be placed. */
  readonly withinMs: number;
  readonly late: LatePolicy;
  /** Most records held at once. Beyond it `push` throws CONFIG_INVALID (see {@link Tsort.push}). */
  readonly maxHeld: number;
  /** Set when the stage starts on a replay after a restart. */
  readonly resume?: ResumePoint;
}

export interface TsortStats {
  readonly held: number;
  readonly released: number;
  readonly lateDropped: number;
  readonly lateDeadLettered: number;
}

/** Per source unit: arrival-ordered slots, so the committable position never passes a held record. */
interface UnitState {
  readonly source: string;
  readonly unit: string;
  /** Order of this unit among all units, for ties on rowtime (by source, then unit name). */
  readonly key: string;
  readonly slots: Deque<Slot<unknown>>;
  /** During a replay: positions are not reported until the committed position has been passed. */
  waiting: boolean;
  /** During a replay: the committed position has not arrived yet (what arrives is covered). */
  beforeCommitted: boolean;
  readonly committed: JsonValue | undefined;
  /** The newest committable position not yet taken, if any. */
  pending: SourcePosition | null;
}

interface Slot<T> {
  readonly next: JsonValue;
  done: boolean;
  /** A late record under `dead-letter`, returned when the unit's finished prefix passes it. */
  late?: LateEntry<T>;
  /** The record whose position is the committed watermark (replay only). */
  readonly marker: boolean;
}

interface Held<T> {
  readonly entry: TsortEntry<T>;
  readonly unit: UnitState;
  readonly slot: Slot<T>;
  readonly arrival: number;
}

/**
 * T-sort (SQLstream's `ORDER BY rowtime WITHIN interval`): reorders records by rowtime within a
 * bounded delay.
 *
 * - The frontier is (newest rowtime seen) − `within`. A record whose rowtime is below the
 *   frontier when it arrives is late: dropped (counted) or returned as a dead letter. Every other
 *   record is held until the frontier passes it (rowtime < frontier), then released.
 * - Release order is by rowtime; ties by source name, unit name, then arrival within the unit.
 *   Arrival order *within* a unit is the source's own order, so a replay of the same input
 *   releases the same order; arrival order *across* units depends on read timing, so it is not
 *   used.
 * - Exactly-once: {@link takeCommittable} reports, per unit, the position after the longest
 *   arrival-ordered prefix of records that are released or judged late. The runtime commits no
 *   further, so a held record is always replayed after a crash. Records released after a held
 *   one are replayed too; their outputs are suppressed downstream by rowtime (warmup.ts).
 *
 * Not concurrent: one caller, one call at a time.
 */
export class Tsort<T> {
  readonly #options: TsortOptions;
  readonly #held: Heap<Held<T>>;
  readonly #units = new Map<string, UnitState>();
  #newest = Number.NEGATIVE_INFINITY;
  #arrival = 0;
  #released = 0;
  #lateDropped = 0;
  #lateDeadLettered = 0;
  #lateReady: LateEntry<T>[] = [];

  constructor(options: TsortOptions) {
    if (!(options.withinMs >= 0) || !(options.maxHeld >= 1)) {
      throw new TidemarkError('CONFIG_INVALID', 'tsort needs within ≥ 0 and maxHeld ≥ 1', {
        fix: "Set tsort.within to a duration like '2s' and tsort.maxHeld to a positive number.",
      });
    }
    this.#options = options;
    this.#held = new Heap(compareHeld);
  }

  /** Every record with a rowtime below this has been released or judged late. */
  get frontier(): number {
    return this.#newest - this.#options.withinMs;
  }

  /**
   * Adds one record (in its source's order) and returns what it releases.
   *
   * Throws CONFIG_INVALID (not retriable) when holding it would exceed `maxHeld`: the input
   * carries more records per `within` of rowtime than the bound allows. A replay would meet the
   * same records, so retrying cannot help; the fix is a larger `maxHeld` or a smaller `within`.
   */
  push(entry: TsortEntry<T>): TsortStep<T> {
    if (!Number.isFinite(entry.rowtime)) {
      throw new TidemarkError(
        'POISON_RECORD',
        `record at ${JSON.stringify(entry.position)} has no finite rowtime`,
        {
          fix: 'Give every record a rowtime (check the pipeline rowtime setting).',
        },
      );
    }
    const unit = this.#unit(entry.source, entry.position.unit);
    // The record at the committed position marks the end of what was committed. A committed
    // position no record carries (a source `advance` past control records) is passed by the
    // first record after it, for positions that order as integers.
    let covered = unit.beforeCommitted;
    let marker = false;
    if (unit.beforeCommitted) {
      if (jsonEqual(entry.position.next, unit.committed)) marker = true;
      else if (isAfter(entry.position.next, unit.committed)) {
        marker = true;
        covered = false;
      }
      if (marker) unit.beforeCommitted = false;
    }
    const slot: Slot<T> = { next: entry.position.next, done: false, marker };
    unit.slots.push(slot as Slot<unknown>);
    if (entry.rowtime < this.frontier) {
      if (this.#options.late === 'drop') this.#lateDropped += 1;
      else {
        this.#lateDeadLettered += 1;
        slot.late = { ...entry, covered };
      }
      this.#complete(unit, slot);
      return { released: [], late: this.#takeLate(), frontier: this.frontier };
    }
    this.#arrival += 1;
    this.#held.push({ entry, unit, slot, arrival: this.#arrival });
    if (entry.rowtime > this.#newest) this.#newest = entry.rowtime;
    const released = this.#releaseBelow(this.frontier);
    if (this.#held.size > this.#options.maxHeld) {
      throw new TidemarkError(
        'CONFIG_INVALID',
        `tsort holds more than maxHeld=${this.#options.maxHeld} records within ${this.#options.withinMs} ms of rowtime`,
        {
          retriable: false,
          fix: 'Raise tsort.maxHeld (memory grows with it) or lower tsort.within.',
          details: { maxHeld: this.#options.maxHeld, withinMs: this.#options.withinMs },
        },
      );
    }
    return { released, late: this.#takeLate(), frontier: this.frontier };
  }

  /** End of bounded input: releases everything held, in order. The frontier becomes +∞. */
  flush(): TsortStep<T> {
    this.#newest = Number.POSITIVE_INFINITY;
    const released = this.#releaseBelow(Number.POSITIVE_INFINITY);
    return { released, late: this.#takeLate(), frontier: this.frontier };
  }

  /**
   * Positions the runtime may fold into the open transaction's watermark: per unit that moved
   * since the last call, the position after its longest prefix of finished records. Call after
   * the outputs of the pushes so far were written to the transaction.
   */
  takeCommittable(): { readonly source: string; readonly position: SourcePosition }[] {
    const result: { source: string; position: SourcePosition }[] = [];
    for (const unit of this.#units.values()) {
      if (unit.pending === null) continue;
      result.push({ source: unit.source, position: unit.pending });
      unit.pending = null;
    }
    return result;
  }

  /**
   * The position (as the record carries it) of the earliest-arrived record of a unit that is
   * still held; undefined when the unit holds none. The unit's committable position stays
   * before this record, and so do late records that arrived after it (their dead-letter copies
   * wait for it).
   */
  oldestHeld(source: string, unit: string): SourcePosition | undefined {
    const first = this.#units.get(unitKey(source, unit))?.slots.first;
    return first === undefined ? undefined : { unit, next: first.next };
  }

  stats(): TsortStats {
    return {
      held: this.#held.size,
      released: this.#released,
      lateDropped: this.#lateDropped,
      lateDeadLettered: this.#lateDeadLettered,
    };
  }

  #releaseBelow(bound: number): TsortEntry<T>[] {
    const released: TsortEntry<T>[] = [];
    while (this.#held.size > 0 && this.#held.peek()!.entry.rowtime < bound) {
      const held = this.#held.pop()!;
      this.#complete(held.unit, held.slot);
      released.push(held.entry);
    }
    this.#released += released.length;
    return released;
  }

  #takeLate(): LateEntry<T>[] {
    const late = this.#lateReady;
    this.#lateReady = [];
    return late;
  }

  /** Marks a record finished and advances its unit's committable prefix. */
  #complete(unit: UnitState, slot: Slot<T>): void {
    slot.done = true;
    let advanced: JsonValue | undefined;
    let passed = false;
    while (unit.slots.length > 0 && unit.slots.first!.done) {
      const finished = unit.slots.shift()! as Slot<T>;
      advanced = finished.next;
      if (finished.late) this.#lateReady.push(finished.late);
      if (finished.marker) passed = true;
    }
    if (passed) unit.waiting = false;
    if (advanced !== undefined && !unit.waiting) {
      unit.pending = { unit: unit.unit, next: advanced };
    }
  }

  #unit(source: string, unit: string): UnitState {
    const key = unitKey(source, unit);
    let state = this.#units.get(key);
    if (state) return state;
    const committed = this.#options.resume?.committed[source]?.[unit];
    const replayStart = this.#options.resume?.replayStart[source]?.[unit];
    const replaysCommitted = committed !== undefined && !jsonEqual(committed, replayStart);
    state = {
      source,
      unit,
      key,
      slots: new Deque(),
      waiting: replaysCommitted,
      beforeCommitted: replaysCommitted,
      committed,
      pending: null,
    };
    this.#units.set(key, state);
    return state;
  }
}

/** True when both positions are integers and `next` comes after `committed`; false otherwise. */
function isAfter(next: JsonValue, committed: JsonValue | undefined): boolean {
  if (committed === undefined) return false;
  try {
    return comparePositions(next, committed) > 0;
  } catch {
    return false;
  }
}

function unitKey(source: string, unit: string): string {
  return `${source}\u0000${unit}`;
}

function compareHeld<T>(a: Held<T>, b: Held<T>): number {
  if (a.entry.rowtime !== b.entry.rowtime) return a.entry.rowtime - b.entry.rowtime;
  if (a.unit !== b.unit) return a.unit.key < b.unit.key ? -1 : 1;
  return a.arrival - b.arrival;
}
