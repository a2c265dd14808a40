import { Counter, Gauge, type Registry } from 'prom-client';
import type { TaskCluster } from './cluster.js';

const STATES = ['opening', 'running', 'recovering', 'stopping', 'stopped', 'failed'] as const;

/**
 * Per-task series of the pipelines that run as tasks, read from the clusters at scrape time:
 * which tasks this instance owns, each task's state, last commit and lag, and whether this
 * instance is a stand-by. Summed over instances (`sum by (pipeline, task)`), `tidemark_task_owned`
 * is 1 for every task when the group is healthy. `tidemark_task_group_evictions_total` counts the
 * silent members this instance removed from the group (`group.livenessTimeout`).
 */
export function registerTaskMetrics(registry: Registry, clusters: readonly TaskCluster[]): void {
  if (clusters.length === 0) return;
  const tasks = () =>
    clusters.flatMap((cluster) =>
      cluster.tasks().map((task) => ({ pipeline: cluster.id, instance: cluster.instance ?? '', ...task })),
    );
  /** The clusters in group mode, with their per-instance labels. */
  const grouped = () =>
    clusters
      .filter((cluster) => cluster.grouped)
      .map((cluster) => ({ cluster, labels: { pipeline: cluster.id, instance: cluster.instance ?? '' } }));
  new Gauge({
    name: 'tidemark_task_owned',
    help: 'Whether this instance owns the task (1) or not (0).',
    labelNames: ['pipeline', 'task', 'instance'],
    registers: [registry],
    collect() {
      this.reset();
      for (const task of tasks())
        this.set({ pipeline: task.pipeline, task: task.taskId, instance: task.instance }, task.owned ? 1 : 0);
    },
  });
  new Gauge({
    name: 'tidemark_task_state',
    help: 'The state of each task this instance runs: 1 for the current state label.',
    labelNames: ['pipeline', 'task', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const task of tasks()) {
        if (!task.owned || !task.status) continue;
        for (const state of STATES)
          this.set(
            { pipeline: task.pipeline, task: task.taskId, state },
            task.status.state === state ? 1 : 0,
          );
      }
    },
  });
  new Gauge({
    name: 'tidemark_task_last_commit_timestamp_seconds',
    help: 'When the task last committed on this instance (Unix seconds).',
    labelNames: ['pipeline', 'task'],
    registers: [registry],
    collect() {
      this.reset();
      for (const task of tasks()) {
        const at = task.status?.lastCommitAt ?? task.status?.committed.committedAt ?? null;
        if (task.owned && at) this.set({ pipeline: task.pipeline, task: task.taskId }, at / 1000);
      }
    },
  });
  new Gauge({
    name: 'tidemark_task_lag_records',
    help: "Records between the task's sources' read position and their end (summed over sources).",
    labelNames: ['pipeline', 'task'],
    registers: [registry],
    collect() {
      this.reset();
      for (const task of tasks())
        if (task.owned && task.lag !== undefined)
          this.set({ pipeline: task.pipeline, task: task.taskId }, task.lag);
    },
  });
  new Gauge({
    name: 'tidemark_task_acquisitions',
    help: 'How many times this instance took the task (a takeover or a rebalance moved it here).',
    labelNames: ['pipeline', 'task'],
    registers: [registry],
    collect() {
      this.reset();
      for (const task of tasks()) this.set({ pipeline: task.pipeline, task: task.taskId }, task.acquisitions);
    },
  });
  new Counter({
    name: 'tidemark_task_group_evictions_total',
    help: 'Members of the task group this instance removed because their liveness records stopped (group.livenessTimeout).',
    labelNames: ['pipeline', 'instance'],
    registers: [registry],
    collect() {
      this.reset();
      for (const { labels, cluster } of grouped()) this.inc(labels, cluster.evictions);
    },
  });
  new Gauge({
    name: 'tidemark_instance_standby',
    help: 'Whether this instance is a stand-by for the pipeline (joined, owns no task).',
    labelNames: ['pipeline', 'instance'],
    registers: [registry],
    collect() {
      this.reset();
      for (const { labels, cluster } of grouped())
        this.set(labels, cluster.tasks().some((task) => task.owned) ? 0 : 1);
    },
  });
}
