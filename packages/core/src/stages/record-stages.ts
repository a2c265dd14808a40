import { TidemarkError } from '../errors.js';
import type { SinkRecord, SourcePosition, TidemarkRecord } from '../record.js';
import { StageChain, type StagesResume, type StagesSpec, type StagesStep } from './chain.js';
import type { Fields } from './expression.js';
import type { TsortStats } from './tsort.js';
import type { GateStats } from './warmup.js';

/** What one push (or flush) gives the runtime to write, already filtered by the warm-up gate. */
export interface RecordStep {
  /** Records for the sink, in order: main outputs, and late records routed to the dead letters. */
  readonly writes: SinkRecord[];
  /** Records the stages could not process, for the pipeline's poison policy, in order. */
  readonly poison: {
    readonly record: TidemarkRecord;
    readonly source: string;
    readonly error: TidemarkError;
  }[];
}

/** Aggregate rows of a tumbling window have no source position; the runtime never folds it. */
const NO_POSITION: SourcePosition = Object.freeze({ unit: '', next: null });

interface Item {
  readonly source: string;
  readonly record: TidemarkRecord;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/**
 * The stages of one pipeline over runtime records: JSON values in, sink records out. A thin
 * layer over {@link StageChain} for the runtime loop (docs/windows.md, "Runtime integration").
 *
 * - Input: every record read, in source order, after rowtime promotion and transforms (poison
 *   ones included: they are reported back at their release, so their dead-letter copy commits
 *   with the position that covers it).
 * - Sliding window outputs: the input record with the aggregate columns added to its JSON value.
 *   Tumbling outputs: a new record, key = JSON of the partition values, value
 *   `{ windowStart, windowEnd, <partitionBy text>: value…, <aggregates>… }`, rowtime = window
 *   end, no headers or provenance. Without a window: the input record, in rowtime order.
 * - A record whose value is not a JSON object is poison when a window must read it.
 *
 * Same call contract as StageChain: one caller, fold `takeCommittable()` before each commit,
 * commit `committedRowtime`, a new instance after every rewind.
 */
export class RecordStages {
  readonly #chain: StageChain<Item>;
  readonly #spec: StagesSpec;
  readonly #decoded = new WeakMap<TidemarkRecord, Fields>();

  constructor(spec: StagesSpec, resume?: StagesResume) {
    this.#spec = spec;
    this.#chain = new StageChain<Item>(spec, (item) => this.#fields(item.record), resume);
  }

  push(source: string, record: TidemarkRecord): RecordStep {
    return this.#convert(
      this.#chain.push({
        rowtime: record.rowtime,
        source,
        position: record.position,
        item: { source, record },
      }),
    );
  }

  /** End of bounded input: everything held is released and every open window closes. */
  flush(): RecordStep {
    return this.#convert(this.#chain.flush());
  }

  takeCommittable(): { readonly source: string; readonly position: SourcePosition }[] {
    return this.#chain.takeCommittable();
  }

  /** True while a record of this source unit is held: the unit's watermark must not move past it. */
  holds(source: string, unit: string): boolean {
    return this.#chain.tsort.oldestHeld(source, unit) !== undefined;
  }

  get committedRowtime(): number | null {
    return this.#chain.committedRowtime;
  }

  stats(): TsortStats & GateStats {
    return { ...this.#chain.tsort.stats(), ...this.#chain.gate.stats() };
  }

  #convert(step: StagesStep<Item>): RecordStep {
    const writes: SinkRecord[] = [];
    const poison: RecordStep['poison'][number][] = [];
    const window = this.#spec.window;
    for (const output of step.outputs) {
      if (window === undefined) {
        const { record, source } = output.item!;
        if (record.poison === undefined) writes.push(record);
        else poison.push({ record, source, error: poisonError(record.poison) });
      } else if (window.kind === 'sliding') {
        const { record } = output.item!;
        writes.push({ ...record, value: encodeJson({ ...this.#fields(record), ...output.values }) });
      } else {
        const columns: Record<string, unknown> = {
          windowStart: output.windowStart,
          windowEnd: output.rowtime,
        };
        window.partitionBy.forEach((text, index) => {
          columns[text] = output.partition[index];
        });
        writes.push({
          key: encodeJson(output.partition),
          value: encodeJson({ ...columns, ...output.values }),
          headers: {},
          rowtime: output.rowtime,
          provenance: {},
          position: NO_POSITION,
        });
      }
    }
    for (const late of step.late) writes.push({ ...late.item.record, route: 'dead-letter' });
    for (const failed of step.poison) {
      poison.push({
        record: failed.entry.item.record,
        source: failed.entry.item.source,
        error: failed.error,
      });
    }
    return { writes, poison };
  }

  /** The record's value as a JSON object (decoded once); throws POISON_RECORD otherwise. */
  #fields(record: TidemarkRecord): Fields {
    const cached = this.#decoded.get(record);
    if (cached) return cached;
    if (record.poison !== undefined) throw poisonError(record.poison);
    let parsed: unknown;
    try {
      parsed = record.value === null ? null : JSON.parse(decoder.decode(record.value));
    } catch {
      throw poisonError('the record value is not JSON, so the window cannot read its fields');
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw poisonError('the record value is not a JSON object, so the window cannot read its fields');
    }
    this.#decoded.set(record, parsed as Fields);
    return parsed as Fields;
  }
}

function poisonError(message: string): TidemarkError {
  return new TidemarkError('POISON_RECORD', message, {
    fix: "Fix the record at its source, or set the pipeline's poison policy to 'dead-letter' or 'skip'.",
  });
}

function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}
