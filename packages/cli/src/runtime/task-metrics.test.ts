import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { TaskCluster, TaskView } from './cluster.js';
import { registerTaskMetrics } from './task-metrics.js';

function view(index: number, owned: boolean, extra: Partial<TaskView> = {}): TaskView {
  return {
    index,
    taskId: `task-${index}`,
    owned,
    status: undefined,
    lag: undefined,
    acquisitions: 0,
    ...extra,
  };
}

describe('registerTaskMetrics', () => {
  it('exports ownership, state, last commit, lag, acquisitions, stand-by and evictions', async () => {
    const registry = new Registry();
    const status = {
      id: 'orders',
      state: 'running' as const,
      recordsIn: 0,
      recordsOut: 0,
      commits: 1,
      rewinds: 0,
      lastCommitAt: 5_000,
      committed: { watermarks: {}, rowtime: null, committedAt: 4_000 },
      lastError: null,
    };
    const cluster = {
      id: 'orders',
      instance: 'host:7',
      grouped: true,
      evictions: 3,
      tasks: () => [view(0, true, { status, lag: 42, acquisitions: 2 }), view(1, false)],
    } as unknown as TaskCluster;
    const standby = {
      id: 'audit',
      instance: 'host:7',
      grouped: true,
      evictions: 0,
      tasks: () => [view(0, false)],
    } as unknown as TaskCluster;
    registerTaskMetrics(registry, [cluster, standby]);
    const text = await registry.metrics();
    expect(text).toContain('tidemark_task_owned{pipeline="orders",task="task-0",instance="host:7"} 1');
    expect(text).toContain('tidemark_task_owned{pipeline="orders",task="task-1",instance="host:7"} 0');
    expect(text).toContain('tidemark_task_state{pipeline="orders",task="task-0",state="running"} 1');
    expect(text).toContain('tidemark_task_state{pipeline="orders",task="task-0",state="failed"} 0');
    expect(text).toContain('tidemark_task_last_commit_timestamp_seconds{pipeline="orders",task="task-0"} 5');
    expect(text).toContain('tidemark_task_lag_records{pipeline="orders",task="task-0"} 42');
    expect(text).toContain('tidemark_task_acquisitions{pipeline="orders",task="task-0"} 2');
    expect(text).toContain('tidemark_instance_standby{pipeline="orders",instance="host:7"} 0');
    expect(text).toContain('tidemark_instance_standby{pipeline="audit",instance="host:7"} 1');
    expect(text).toContain('tidemark_task_group_evictions_total{pipeline="orders",instance="host:7"} 3');
    expect(text).toContain('tidemark_task_group_evictions_total{pipeline="audit",instance="host:7"} 0');
    expect(text).not.toContain('tidemark_task_state{pipeline="orders",task="task-1"');
  });

  it('registers nothing without split pipelines', async () => {
    const registry = new Registry();
    registerTaskMetrics(registry, []);
    expect(await registry.metrics()).toBe('\n');
  });
});
