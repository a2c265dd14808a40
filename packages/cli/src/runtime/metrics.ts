import type { PipelineObserver } from '@tidemark/core';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The Prometheus metrics of one `tidemark run` process. One registry per process (not prom-client's
 * global one), every series labelled by pipeline, and by source where it applies.
 */
export class PipelineMetrics {
  readonly registry = new Registry();
  readonly #recordsIn = new Counter({
    name: 'tidemark_records_in_total',
    help: 'Records read from sources (replays after a rewind count again).',
    labelNames: ['pipeline', 'source'],
    registers: [this.registry],
  });
  readonly #recordsOut = new Counter({
    name: 'tidemark_records_out_total',
    help: 'Records written to the sink main output (inside transactions, committed or not).',
    labelNames: ['pipeline'],
    registers: [this.registry],
  });
  readonly #bytes = new Counter({
    name: 'tidemark_bytes_total',
    help: 'Payload bytes read (direction="in", per source) and written (direction="out").',
    labelNames: ['pipeline', 'source', 'direction'],
    registers: [this.registry],
  });
  readonly #commits = new Counter({
    name: 'tidemark_commits_total',
    help: 'Transactions committed.',
    labelNames: ['pipeline'],
    registers: [this.registry],
  });
  readonly #commitDuration = new Histogram({
    name: 'tidemark_commit_duration_seconds',
    help: 'Time a commit (flush + watermarks + end transaction) took.',
    labelNames: ['pipeline'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly #aborts = new Counter({
    name: 'tidemark_aborts_total',
    help: 'Transactions aborted.',
    labelNames: ['pipeline'],
    registers: [this.registry],
  });
  readonly #rewinds = new Counter({
    name: 'tidemark_rewinds_total',
    help: 'Rewinds to the committed watermark after a retriable failure.',
    labelNames: ['pipeline'],
    registers: [this.registry],
  });
  readonly #deadLetter = new Counter({
    name: 'tidemark_dead_letter_total',
    help: 'Records routed to the dead-letter output.',
    labelNames: ['pipeline'],
    registers: [this.registry],
  });
  readonly #poison = new Counter({
    name: 'tidemark_poison_total',
    help: 'Poison records seen, by the action the poison policy took.',
    labelNames: ['pipeline', 'source', 'action'],
    registers: [this.registry],
  });
  readonly #lag = new Gauge({
    name: 'tidemark_source_lag_records',
    help: 'Records behind the head of the source, where the source can tell.',
    labelNames: ['pipeline', 'source'],
    registers: [this.registry],
  });

  readonly #progress = new Gauge({
    name: 'tidemark_source_progress_ratio',
    help: 'Share (0–1) of a finite phase (a table backfill) a source has done, where it can tell the total.',
    labelNames: ['pipeline', 'source'],
    registers: [this.registry],
  });
  readonly #progressDone = new Gauge({
    name: 'tidemark_source_progress_done',
    help: 'Units (rows, files) of a finite phase (a table backfill) a source has done.',
    labelNames: ['pipeline', 'source'],
    registers: [this.registry],
  });

  /** An observer for `new Pipeline({ observer })` that feeds these metrics (and `extra`, if given). */
  observer(pipeline: string, extra: PipelineObserver = {}): PipelineObserver {
    return {
      onRead: (info) => {
        this.#recordsIn.inc({ pipeline, source: info.source }, info.records);
        this.#bytes.inc({ pipeline, source: info.source, direction: 'in' }, info.bytes);
        extra.onRead?.(info);
      },
      onWrite: (info) => {
        this.#recordsOut.inc({ pipeline }, info.records);
        this.#bytes.inc({ pipeline, source: '', direction: 'out' }, info.bytes);
        if (info.deadLettered > 0) this.#deadLetter.inc({ pipeline }, info.deadLettered);
        extra.onWrite?.(info);
      },
      onCommit: (info) => {
        this.#commits.inc({ pipeline });
        this.#commitDuration.observe({ pipeline }, info.durationMs / 1000);
        extra.onCommit?.(info);
      },
      onAbort: (info) => {
        this.#aborts.inc({ pipeline });
        extra.onAbort?.(info);
      },
      onRewind: (info) => {
        this.#rewinds.inc({ pipeline });
        extra.onRewind?.(info);
      },
      onPoison: (info) => {
        this.#poison.inc({ pipeline, source: info.source, action: info.action });
        extra.onPoison?.(info);
      },
      onLag: (info) => {
        this.#lag.set({ pipeline, source: info.source }, info.lag);
        extra.onLag?.(info);
      },
      onProgress: (info) => {
        this.#progressDone.set({ pipeline, source: info.source }, info.done);
        if (info.total !== undefined && info.total > 0) {
          this.#progress.set({ pipeline, source: info.source }, Math.min(1, info.done / info.total));
        }
        extra.onProgress?.(info);
      },
    };
  }
}
