import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { registerStageMetrics } from './stage-metrics.js';

const stages = {
  held: 3,
  released: 10,
  lateDropped: 2,
  lateDeadLettered: 1,
  suppressed: 7,
  suppressedLate: 0,
};

describe('stage metrics', () => {
  it('exports the t-sort and window counters of pipelines with stages, and nothing for the others', async () => {
    const registry = new Registry();
    registerStageMetrics(registry, [
      { id: 'orders', status: () => ({ stages }) as never },
      { id: 'plain', status: () => ({}) as never },
    ]);
    const text = await registry.metrics();
    expect(text).toContain('tidemark_stage_records{pipeline="orders",kind="held"} 3');
    expect(text).toContain('tidemark_stage_records{pipeline="orders",kind="late_dropped"} 2');
    expect(text).toContain('tidemark_stage_records{pipeline="orders",kind="suppressed"} 7');
    expect(text).not.toContain('pipeline="plain"');
  });
});
