import { describe, expect, it } from 'vitest';
import { PipelineMetrics } from './metrics.js';

describe('pipeline metrics', () => {
  it('exports lag and backfill progress of a source as gauges', async () => {
    const metrics = new PipelineMetrics();
    const observer = metrics.observer('orders');
    observer.onLag?.({ source: 'db', lag: 12 });
    observer.onProgress?.({ source: 'db', done: 250, total: 1000 });
    const text = await metrics.registry.metrics();
    expect(text).toContain('tidemark_source_lag_records{pipeline="orders",source="db"} 12');
    expect(text).toContain('tidemark_source_progress_done{pipeline="orders",source="db"} 250');
    expect(text).toContain('tidemark_source_progress_ratio{pipeline="orders",source="db"} 0.25');
  });
});
