import type { Pipeline } from '@tidemark/core';
import { Gauge, type Registry } from 'prom-client';

/** The stage counters, by the label value each is exported under. */
const KINDS = {
  held: 'held',
  released: 'released',
  late_dropped: 'lateDropped',
  late_dead_lettered: 'lateDeadLettered',
  suppressed: 'suppressed',
  suppressed_late: 'suppressedLate',
} as const;

/**
 * The t-sort and window counters of the pipelines that have stages, read from each pipeline's
 * `status()` at scrape time: `held` is the records t-sort holds now; the others count since the
 * process started (late records dropped or dead-lettered, outputs suppressed by a warm-up
 * replay). Pipelines without stages export nothing.
 */
export function registerStageMetrics(
  registry: Registry,
  pipelines: readonly Pick<Pipeline, 'id' | 'status'>[],
): void {
  new Gauge({
    name: 'tidemark_stage_records',
    help: 'T-sort and window stage counters per pipeline: held (now), released, late_dropped, late_dead_lettered, suppressed, suppressed_late (since start).',
    labelNames: ['pipeline', 'kind'],
    registers: [registry],
    collect() {
      this.reset();
      for (const pipeline of pipelines) {
        const stages = pipeline.status().stages;
        if (stages === undefined) continue;
        for (const [kind, field] of Object.entries(KINDS))
          this.set({ pipeline: pipeline.id, kind }, stages[field]);
      }
    },
  });
}
