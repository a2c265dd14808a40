import { PoisonRecordError, TidemarkError } from './errors.js';
import type { Logger } from './logger.js';
import type { SinkRecord, TidemarkRecord } from './record.js';
import type { TransactionalSink } from './sink.js';
import type { Transform } from './transforms.js';

/** What to do with a record that its source, a transform or the sink cannot process. */
export type PoisonPolicy = 'fail' | 'skip' | 'dead-letter';

/** Header of a dead-lettered record: why it is poison. */
export const ERROR_HEADER = 'tidemark.error';
/** Header of a dead-lettered record: the source it came from. */
export const SOURCE_HEADER = 'tidemark.source';
/** Header carrying the pipeline id (dead letters; provenance headers of sinks that write them). */
export const PIPELINE_HEADER = 'tidemark.pipeline';

export interface PoisonStageOptions {
  readonly pipelineId: string;
  readonly policy: PoisonPolicy;
  readonly transform: Transform | undefined;
  readonly logger: Logger;
  /** Called for every poison record, with the action taken. */
  readonly onPoison: ((info: { source: string; action: PoisonPolicy; error: string }) => void) | undefined;
}

/**
 * The poison stage of the pipeline: runs the transform over a record, and applies the poison
 * policy to every record that cannot be processed — marked poison by its source, rejected by
 * the transform, or (before the transaction writes) flagged by the sink's `checkRecords` as
 * one it can never write. `fail` throws a non-retriable POISON_RECORD; `skip` drops the
 * record with a warning; `dead-letter` routes it, with the reason in `tidemark.error`, to the
 * sink's dead-letter output in the same transaction.
 */
export class PoisonStage {
  readonly #options: PoisonStageOptions;

  constructor(options: PoisonStageOptions) {
    this.#options = options;
  }

  /** Transforms one record; returns what goes to the sink. A retriable TidemarkError passes through. */
  async process(record: TidemarkRecord, source: string): Promise<SinkRecord[]> {
    const failure = record.poison;
    if (failure === undefined) {
      const transform = this.#options.transform;
      if (!transform) return [record];
      try {
        const result = await transform(record);
        if (result === null) return [];
        return Array.isArray(result) ? [...(result as readonly SinkRecord[])] : [result as SinkRecord];
      } catch (thrown) {
        if (TidemarkError.isInstance(thrown) && thrown.retriable) throw thrown;
        const fix = TidemarkError.isInstance(thrown) ? thrown.fix : undefined;
        return this.#apply(record, source, thrown instanceof Error ? thrown.message : String(thrown), fix);
      }
    }
    return this.#apply(record, source, failure);
  }

  /**
   * Asks the sink which of `outputs` it can never write and applies the policy to those: returns
   * `outputs` itself when none is flagged, else the records to write instead. `sourceOf(i)` names
   * the source of output `i`.
   */
  checkSinkRecords(
    sink: TransactionalSink,
    outputs: SinkRecord[],
    sourceOf: (index: number) => string,
  ): SinkRecord[] {
    const flagged = sink.checkRecords?.(outputs);
    if (!flagged || flagged.size === 0) return outputs;
    const checked: SinkRecord[] = [];
    outputs.forEach((output, index) => {
      const error = flagged.get(index);
      if (error === undefined) checked.push(output);
      else checked.push(...this.#apply(output, sourceOf(index), error.message, error.fix));
    });
    return checked;
  }

  /** `fix`: how to repair this kind of failure (from the sink or transform that found it), if known. */
  #apply(record: TidemarkRecord, source: string, failure: string, fix?: string): SinkRecord[] {
    const { policy, pipelineId, logger } = this.#options;
    this.#options.onPoison?.({ source, action: policy, error: failure });
    switch (policy) {
      case 'fail':
        throw new PoisonRecordError(
          `poison record from source '${source}' at ${JSON.stringify(record.provenance)}: ${failure}`,
          {
            fix: `${fix ?? 'Fix the record or the transform.'} Or set the pipeline's poison policy to 'dead-letter' or 'skip'.`,
            details: { source, provenance: record.provenance },
          },
        );
      case 'skip':
        logger.warn({ source, provenance: record.provenance, err: failure }, 'skipped poison record');
        return [];
      case 'dead-letter':
        return [
          {
            ...record,
            headers: {
              ...record.headers,
              [ERROR_HEADER]: `${failure} (source '${source}'${locationOf(record.provenance)})`,
              [SOURCE_HEADER]: source,
              [PIPELINE_HEADER]: pipelineId,
            },
            poison: failure,
            route: 'dead-letter',
          },
        ];
    }
  }
}

/** `, <column>=<value> …` of a record's provenance (file and line, topic and offset…), for dead-letter reasons. */
function locationOf(provenance: TidemarkRecord['provenance']): string {
  let text = '';
  for (const column in provenance) {
    const value = provenance[column];
    if (value !== null && value !== undefined) text += `, ${column}=${String(value)}`;
  }
  return text;
}
