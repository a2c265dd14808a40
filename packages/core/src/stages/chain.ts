import { TidemarkError } from '../errors.js';
import type { SourcePosition } from '../record.js';
import type { Fields } from './expression.js';
import {
  type LateEntry,
  type LatePolicy,
  type ResumePoint,
  Tsort,
  type TsortEntry,
  type TsortStep,
} from './tsort.js';
import { WarmupGate } from './warmup.js';
import { createWindow, type WindowOutput, type WindowSpec, type WindowStage } from './window.js';

/** The stages of one pipeline, as configured (durations in milliseconds). */
export interface StagesSpec {
  /** Absent: `within` 0 (the window then needs input already in rowtime order). */
  readonly tsort?: { readonly withinMs: number; readonly late: LatePolicy; readonly maxHeld: number };
  readonly window?: WindowSpec;
}

/** Set when the stages start on a replay after a restart. */
export interface StagesResume extends ResumePoint {
  /** The committed rowtime R (see warmup.ts); null when nothing was committed. */
  readonly committedRowtime: number | null;
}

/** An output of the stages: a record in order (t-sort only) or a window output. */
export type StageOutput<T> = WindowOutput<T>;

/** A released record whose window expression failed: the runtime applies its poison policy. */
export interface StagePoison<T> {
  readonly entry: TsortEntry<T>;
  readonly error: TidemarkError;
}

/** What one push (or flush) produced, already filtered by the warm-up gate. */
export interface StagesStep<T> {
  /** Outputs for the sink's main route, in order. */
  readonly outputs: StageOutput<T>[];
  /** Late records for the dead-letter route (`late: dead-letter`). */
  readonly late: LateEntry<T>[];
  /** Records the window could not evaluate, in order, for the poison policy. */
  readonly poison: StagePoison<T>[];
}

/**
 * T-sort → window → warm-up gate, composed: the unit the runtime drives per pipeline.
 *
 * Call contract (one caller, no concurrency): `push` every record in source order; write the
 * step's outputs, late records and poison records to the open transaction; before committing,
 * fold {@link takeCommittable} into the transaction's watermarks and commit
 * {@link committedRowtime} as the transaction's rowtime. `flush` at the end of bounded input.
 * After a restart, create a new chain with `resume` and replay from the positions warmup.ts
 * describes. A thrown error other than a window expression error leaves the chain unusable:
 * the runtime rewinds and creates a new one.
 */
export class StageChain<T> {
  readonly #tsort: Tsort<T>;
  readonly #window: WindowStage<T> | undefined;
  readonly #gate: WarmupGate;
  readonly #fieldsOf: (item: T) => Fields;
  #rowtime: number | null;

  constructor(spec: StagesSpec, fieldsOf: (item: T) => Fields, resume?: StagesResume) {
    this.#tsort = new Tsort<T>({
      withinMs: spec.tsort?.withinMs ?? 0,
      late: spec.tsort?.late ?? 'drop',
      maxHeld: spec.tsort?.maxHeld ?? 100_000,
      ...(resume ? { resume } : {}),
    });
    this.#window = spec.window ? createWindow<T>(spec.window) : undefined;
    this.#gate = new WarmupGate(resume?.committedRowtime ?? null);
    this.#fieldsOf = fieldsOf;
    this.#rowtime = resume?.committedRowtime ?? null;
  }

  push(entry: TsortEntry<T>): StagesStep<T> {
    return this.#apply(this.#tsort.push(entry));
  }

  flush(): StagesStep<T> {
    const step = this.#apply(this.#tsort.flush());
    if (this.#window) this.#emit(this.#window.flush(), step.outputs);
    return step;
  }

  /** Watermark positions the transaction may take now (see {@link Tsort.takeCommittable}). */
  takeCommittable(): { readonly source: string; readonly position: SourcePosition }[] {
    return this.#tsort.takeCommittable();
  }

  /**
   * The rowtime to commit with the transaction, R: every output with rowtime ≤ R has been
   * emitted and none above. The largest rowtime emitted (or suppressed) so far; for a tumbling
   * window, at least the t-sort frontier. Null before anything was emitted.
   */
  get committedRowtime(): number | null {
    return this.#rowtime;
  }

  get tsort(): Tsort<T> {
    return this.#tsort;
  }

  get gate(): WarmupGate {
    return this.#gate;
  }

  #apply(step: TsortStep<T>): StagesStep<T> {
    const outputs: StageOutput<T>[] = [];
    const poison: StagePoison<T>[] = [];
    const late = step.late.filter((entry) => this.#gate.admitLate(entry));
    for (const entry of step.released) {
      if (!this.#window) {
        this.#emit([{ rowtime: entry.rowtime, partition: [], values: {}, item: entry.item }], outputs);
        continue;
      }
      let produced: WindowOutput<T>[];
      try {
        produced = this.#window.push({
          rowtime: entry.rowtime,
          fields: this.#fieldsOf(entry.item),
          item: entry.item,
        });
      } catch (thrown) {
        if (!TidemarkError.hasCode(thrown, 'POISON_RECORD')) throw thrown;
        this.#note(entry.rowtime);
        if (this.#gate.admit(entry.rowtime)) poison.push({ entry, error: thrown as TidemarkError });
        continue;
      }
      this.#emit(produced, outputs);
    }
    if (this.#window && Number.isFinite(step.frontier)) {
      this.#emit(this.#window.advance(step.frontier), outputs);
      // Every tumbling window ending at or before the frontier is closed and none after it is:
      // committing the frontier lets a restart warm up from the window that contains it, even
      // before the first window closed.
      if (this.#window.kind === 'tumbling') this.#note(step.frontier);
    }
    return { outputs, late, poison };
  }

  #emit(produced: readonly StageOutput<T>[], into: StageOutput<T>[]): void {
    for (const output of produced) {
      this.#note(output.rowtime);
      if (this.#gate.admit(output.rowtime)) into.push(output);
    }
  }

  #note(rowtime: number): void {
    if (this.#rowtime === null || rowtime > this.#rowtime) this.#rowtime = rowtime;
  }
}
