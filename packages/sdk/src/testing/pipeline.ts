import {
  type BatchLimits,
  type CommitPolicy,
  Pipeline,
  type PipelineResult,
  type PoisonPolicy,
  type SinkRecord,
  type Source,
  TidemarkError,
  type Transform,
} from '@tidemark/core';
import { createMemorySink, type MemorySink } from '@tidemark/core/testing';

export interface RunPipelineOptions {
  /** Unopened sources (the pipeline opens them at the sink's committed watermarks). */
  readonly sources: readonly Source[];
  /** Defaults to a fresh {@link createMemorySink}. */
  readonly sink?: MemorySink;
  /**
   * Stops the pipeline (after a final commit) once this returns true; checked every 20 ms.
   * Bounded sources stop by themselves when they end.
   */
  readonly until?: (sink: MemorySink) => boolean;
  /** Fails with TIMEOUT when the pipeline has not finished within this time. Default 30 s. */
  readonly timeoutMs?: number;
  readonly pipelineId?: string;
  readonly transform?: Transform;
  readonly poison?: PoisonPolicy;
  readonly commit?: Partial<CommitPolicy>;
  readonly batch?: Partial<BatchLimits>;
}

export interface RunPipelineResult {
  readonly result: PipelineResult;
  readonly sink: MemorySink;
  /** Everything committed to the sink (all runs of this sink). */
  readonly records: readonly SinkRecord[];
}

/**
 * Runs the real pipeline runtime over `sources` into an in-memory transactional sink until the
 * sources end or `until` holds, with fast retries (10–50 ms backoff), and returns what was
 * committed. Rejects with the pipeline's error when it stops on a non-retriable one, and with
 * TIMEOUT when it takes longer than `timeoutMs`.
 */
export async function runPipelineToCompletion(options: RunPipelineOptions): Promise<RunPipelineResult> {
  const sink = options.sink ?? createMemorySink();
  const pipeline = new Pipeline({
    id: options.pipelineId ?? `conformance-${Math.random().toString(36).slice(2, 10)}`,
    sources: options.sources,
    sink,
    retry: { initialBackoffMs: 10, maxBackoffMs: 50, maxConsecutiveFailures: 20 },
    commit: { maxWallMs: 100, ...options.commit },
    batch: { maxWaitMs: 50, ...options.batch },
    ...(options.transform ? { transform: options.transform } : {}),
    ...(options.poison ? { poison: options.poison } : {}),
  });
  const timeoutMs = options.timeoutMs ?? 30_000;
  let timedOut = false;
  const timeout = setTimeout(() => {
    timedOut = true;
    pipeline.stop();
  }, timeoutMs);
  const until = options.until;
  const poll = until
    ? setInterval(() => {
        if (until(sink)) pipeline.stop();
      }, 20)
    : undefined;
  try {
    const result = await pipeline.run();
    if (timedOut) {
      throw new TidemarkError(
        'TIMEOUT',
        `pipeline did not finish within ${timeoutMs} ms (${sink.committedRecords.length} records committed)`,
      );
    }
    return { result, sink, records: sink.committedRecords };
  } finally {
    clearTimeout(timeout);
    if (poll) clearInterval(poll);
  }
}
