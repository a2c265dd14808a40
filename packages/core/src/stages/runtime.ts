import { TidemarkError } from '../errors.js';
import type { JsonValue } from '../json.js';
import type { PoisonStage } from '../poison.js';
import type { SinkRecord, SourcePosition, TidemarkRecord } from '../record.js';
import type { RowtimeRule } from '../rowtime.js';
import type { TransactionalSink } from '../sink.js';
import type { Source } from '../source.js';
import type { Transform } from '../transforms.js';
import {
  type CommittedState,
  comparePositions,
  type PipelineWatermarks,
  type Watermark,
} from '../watermark.js';
import type { StagesSpec } from './chain.js';
import { RecordStages, type RecordStep } from './record-stages.js';
import type { TsortStats } from './tsort.js';
import { earliestWatermarks, type GateStats, warmupFrom } from './warmup.js';

/** What the runtime needs to check a pipeline with stages (see {@link checkStagesConfiguration}). */
export interface StagesCheck {
  readonly pipelineId: string;
  readonly spec: StagesSpec;
  readonly sources: readonly Source[];
  readonly sink: TransactionalSink;
  readonly rowtime?: RowtimeRule | undefined;
}

/**
 * Throws CONFIG_INVALID (with a fix) when a pipeline's stages cannot run exactly once: a window
 * over a source that cannot seek by time (no `watermarkAt`), a window over a rowtime promoted
 * from a payload field (the warm-up seeks by source time), or `late: dead-letter` without a
 * dead-letter output. The YAML loader adds what only the configuration shows (`start: latest`).
 */
export function checkStagesConfiguration(check: StagesCheck): void {
  const { pipelineId, spec, sources, sink, rowtime } = check;
  if (spec.window !== undefined) {
    for (const source of sources) {
      if (typeof source.watermarkAt !== 'function' || source.capabilities.replay !== 'seek') {
        throw new TidemarkError(
          'CONFIG_INVALID',
          `pipeline ${pipelineId}: source '${source.name}' cannot seek by time, so the window cannot warm up after a restart`,
          {
            fix: 'Use a window only over sources that replay by seeking and can seek by time (Kafka, Kinesis, RDBMS, AMQP stream queues), or drop the window and keep tsort.',
          },
        );
      }
    }
    if (rowtime?.from === 'field') {
      throw new TidemarkError(
        'CONFIG_INVALID',
        `pipeline ${pipelineId}: a window needs the rowtime the sources seek by, not one promoted from a payload field`,
        {
          fix: "Remove `rowtime` (the source's own timestamp is the default) or promote it from the source's timestamp column, e.g. `rowtime: { from: provenance, column: kafka.timestamp }`.",
        },
      );
    }
  }
  if (spec.tsort?.late === 'dead-letter' && !sink.capabilities.deadLetter) {
    throw new TidemarkError(
      'CONFIG_INVALID',
      `pipeline ${pipelineId}: tsort.late is dead-letter but the sink has no dead-letter output`,
      { fix: "Configure a dead-letter output on the sink, or set tsort.late to 'drop'." },
    );
  }
}

export type PipelineStagesStats = TsortStats & GateStats;

/**
 * Orders integer positions (Kafka offsets, stream offsets); positions that are not integers (an
 * RDBMS row position, a Kinesis stream state) count the warm-up one as earlier. That is safe for
 * records within the t-sort bound: every record after the committed position is held or unread,
 * so its rowtime is above the warm-up time, and the position of the warm-up time (the first
 * record at or after it) comes before it.
 */
function warmupFirst(warmup: JsonValue, committed: JsonValue): number {
  try {
    return comparePositions(warmup, committed);
  } catch {
    return -1;
  }
}

/**
 * The t-sort and window stages inside the pipeline loop (docs/windows.md, "Runtime
 * integration"): transforms each record, pushes it through {@link RecordStages}, applies the
 * poison policy to what the stages report back, and repositions the sources for the warm-up
 * replay on open and after every rewind. Called by one loop, one call at a time.
 *
 * Watermark contract: positions of records that went into the stages are never folded by the
 * caller; it folds {@link takeCommittable} before each commit, merges a batch `advance` only
 * for units {@link holds} is false for, and commits {@link committedRowtime}.
 */
export class PipelineStages {
  readonly #spec: StagesSpec;
  readonly #transform: Transform | undefined;
  readonly #poison: PoisonStage;
  /** Records a transform dropped: pushed as markers so their position commits in order, never written. */
  readonly #dropped = new WeakSet<TidemarkRecord>();
  #stages: RecordStages;
  #pushedSinceFlush = false;

  constructor(spec: StagesSpec, transform: Transform | undefined, poison: PoisonStage) {
    this.#spec = spec;
    this.#transform = transform;
    this.#poison = poison;
    this.#stages = new RecordStages(spec);
  }

  /**
   * Builds fresh stages for the committed state and returns where each source must open (or
   * seek): per unit, the earlier of the committed position and the position of the warm-up
   * rowtime (committed rowtime − range, or the start of the window containing it). Units the
   * committed state does not name keep the source's configured start.
   */
  async restart(committed: CommittedState, sources: readonly Source[]): Promise<PipelineWatermarks> {
    const warmup = warmupFrom(this.#spec.window, committed.rowtime);
    let replayStart: PipelineWatermarks = committed.watermarks;
    if (warmup !== null) {
      const atWarmup: Record<string, Watermark> = {};
      for (const source of sources) {
        if (committed.watermarks[source.name] === undefined || !source.watermarkAt) continue;
        atWarmup[source.name] = await source.watermarkAt({ time: warmup });
      }
      replayStart = earliestWatermarks(committed.watermarks, atWarmup, warmupFirst);
    }
    this.#stages = new RecordStages(this.#spec, {
      committedRowtime: committed.rowtime,
      committed: committed.watermarks,
      replayStart,
    });
    this.#pushedSinceFlush = false;
    return replayStart;
  }

  /**
   * Transforms one record (after rowtime promotion) and pushes the result into the stages;
   * returns what to write now. A record the source or the transform marked poison goes in too
   * and meets the poison policy at its release, so its dead-letter copy commits with the
   * position that covers it. A transform result of several records must share one rowtime.
   */
  async consume(record: TidemarkRecord, source: string): Promise<SinkRecord[]> {
    const writes: SinkRecord[] = [];
    this.#pushedSinceFlush = true;
    for (const input of await this.#transformed(record)) {
      await this.#apply(this.#stages.push(source, input), writes);
    }
    return writes;
  }

  /** True when a flush at the end of bounded input may still produce outputs. */
  get needsFlush(): boolean {
    return this.#pushedSinceFlush;
  }

  /** End of bounded input: releases everything held and closes every window. */
  async flush(): Promise<SinkRecord[]> {
    this.#pushedSinceFlush = false;
    const writes: SinkRecord[] = [];
    await this.#apply(this.#stages.flush(), writes);
    return writes;
  }

  takeCommittable(): { readonly source: string; readonly position: SourcePosition }[] {
    return this.#stages.takeCommittable();
  }

  holds(source: string, unit: string): boolean {
    return this.#stages.holds(source, unit);
  }

  /** The entries of a batch's `advance` watermark whose unit holds no record in the stages. */
  unheld(source: string, advance: Watermark): Watermark {
    const result: Record<string, Watermark[string]> = {};
    for (const [unit, position] of Object.entries(advance)) {
      if (!this.#stages.holds(source, unit)) result[unit] = position;
    }
    return result;
  }

  get committedRowtime(): number | null {
    return this.#stages.committedRowtime;
  }

  stats(): PipelineStagesStats {
    return this.#stages.stats();
  }

  async #transformed(record: TidemarkRecord): Promise<readonly TidemarkRecord[]> {
    const transform = this.#transform;
    if (record.poison !== undefined || transform === undefined) return [record];
    let result: Awaited<ReturnType<Transform>>;
    try {
      result = await transform(record);
    } catch (thrown) {
      if (TidemarkError.isInstance(thrown) && thrown.retriable) throw thrown;
      return [{ ...record, poison: thrown instanceof Error ? thrown.message : String(thrown) }];
    }
    const outputs = result === null ? [] : Array.isArray(result) ? result : [result as TidemarkRecord];
    if (outputs.length > 0) return outputs as readonly TidemarkRecord[];
    const marker: TidemarkRecord = { ...record, poison: 'dropped by a transform' };
    this.#dropped.add(marker);
    return [marker];
  }

  async #apply(step: RecordStep, writes: SinkRecord[]): Promise<void> {
    writes.push(...step.writes);
    for (const item of step.poison) {
      if (this.#dropped.has(item.record)) continue;
      const poison = item.record.poison ?? item.error.message;
      writes.push(...(await this.#poison.process({ ...item.record, poison }, item.source)));
    }
  }
}
