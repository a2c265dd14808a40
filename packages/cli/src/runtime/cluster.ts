import {
  EMPTY_COMMITTED_STATE,
  type Logger,
  type Pipeline,
  type PipelineObserver,
  type PipelineResult,
  type PipelineState,
  type PipelineStatus,
  planTasks,
  sleep,
  type TaskMembership,
  type TaskMembershipHook,
  type TaskPlan,
  type TidemarkError,
  taskIdentity,
  toTidemarkError,
  unsplittableSources,
} from '@tidemark/core';
import type { LoadedPipeline, LoadedSource } from '../config/load.js';

/** What {@link TaskCluster} needs from `run`: a way to build the pipeline of one task. */
export interface TaskClusterOptions {
  readonly loaded: LoadedPipeline;
  readonly logger: Logger;
  /** Aborted on shutdown. */
  readonly signal: AbortSignal;
  /** Builds the (unstarted) pipeline of one task, with this observer. */
  readonly build: (
    task: { readonly taskId?: string; readonly sources: readonly LoadedSource[] },
    observer: PipelineObserver,
  ) => Pipeline;
  readonly observer: PipelineObserver;
  /** Stop once every task's sources ended (bounded sources; local mode only). */
  readonly untilIdle: boolean;
}

/** One task as this instance sees it, for status, metrics and `tidemark status`. */
export interface TaskView {
  readonly index: number;
  readonly taskId: string;
  readonly owned: boolean;
  readonly status: PipelineStatus | undefined;
  readonly lag: number | undefined;
  /** How many times this instance gained the task. */
  readonly acquisitions: number;
}

interface TaskRun {
  readonly pipeline: Pipeline;
  readonly done: Promise<void>;
}

/**
 * A pipeline split into tasks (`tasks: N`), run by this instance alone (local mode) or shared
 * with every instance running the same file through the sink's group membership (group mode).
 * Looks like a Pipeline to `run` (id, run, stop, status).
 *
 * Group mode: after each rebalance the membership hands over this instance's complete set of
 * tasks; tasks it lost are stopped (the open transaction aborted, the source closed), tasks it
 * gained are started: their sink's open fences the previous owner and resolves its open
 * transaction, then the task resumes from its own committed watermark. Assignments are handled
 * one at a time. A task that ends FENCED was taken by another instance: it is not an error.
 */
export class TaskCluster {
  readonly id: string;
  readonly #options: TaskClusterOptions;
  readonly #plans: TaskPlan[];
  readonly #running = new Map<number, TaskRun>();
  readonly #last = new Map<number, PipelineStatus>();
  readonly #lags = new Map<number, Map<string, number>>();
  readonly #acquisitions = new Map<number, number>();
  readonly #stopController = new AbortController();
  #owned: readonly number[] = [];
  #membership: TaskMembership | undefined;
  #fatal: TidemarkError | undefined;
  #wake: () => void = () => undefined;
  #joined = false;

  constructor(options: TaskClusterOptions) {
    this.#options = options;
    this.id = options.loaded.config.name;
    this.#plans = planTasks(options.loaded.sources, options.loaded.config.tasks);
  }

  /** True when the instances share the tasks through the sink's group membership. */
  get grouped(): boolean {
    const { config, sink } = this.#options.loaded;
    return (config.group.enabled ?? config.tasks > 1) && sink.connector.membership !== undefined;
  }

  /** Members of the group this instance removed because they fell silent (see `group.livenessTimeout`). */
  get evictions(): number {
    return this.#membership?.evictions ?? 0;
  }

  /** This instance's name in the group (host:pid), once joined. */
  get instance(): string | undefined {
    return this.#membership?.instance;
  }

  stop(): void {
    this.#stopController.abort();
    this.#wake();
  }

  tasks(): TaskView[] {
    return this.#plans.map((plan) => {
      const run = this.#running.get(plan.index);
      const lags = this.#lags.get(plan.index);
      return {
        index: plan.index,
        taskId: plan.taskId,
        owned: this.#owned.includes(plan.index),
        status: run ? run.pipeline.status() : this.#last.get(plan.index),
        lag: lags ? [...lags.values()].reduce((sum, lag) => sum + lag, 0) : undefined,
        acquisitions: this.#acquisitions.get(plan.index) ?? 0,
      };
    });
  }

  /** The tasks' statuses summed into one; a joined stand-by counts as running. */
  status(): PipelineStatus {
    const statuses = [...this.#running.values()].map((run) => run.pipeline.status());
    const state: PipelineState = this.#fatal
      ? 'failed'
      : this.#stopController.signal.aborted
        ? this.#running.size > 0
          ? 'stopping'
          : 'stopped'
        : statuses.length === 0
          ? this.#joined
            ? 'running'
            : 'opening'
          : (statuses.find((status) => status.state !== 'running')?.state ?? 'running');
    const label = this.grouped
      ? this.#owned.length === 0
        ? `${this.id} [stand-by]`
        : `${this.id} [tasks ${this.#owned.join(',')}]`
      : this.id;
    return {
      id: label,
      state,
      recordsIn: statuses.reduce((sum, status) => sum + status.recordsIn, 0),
      recordsOut: statuses.reduce((sum, status) => sum + status.recordsOut, 0),
      commits: statuses.reduce((sum, status) => sum + status.commits, 0),
      rewinds: statuses.reduce((sum, status) => sum + status.rewinds, 0),
      lastCommitAt: statuses.reduce<number | null>(
        (latest, status) =>
          status.lastCommitAt !== null && (latest === null || status.lastCommitAt > latest)
            ? status.lastCommitAt
            : latest,
        null,
      ),
      committed: statuses[0]?.committed ?? EMPTY_COMMITTED_STATE,
      lastError: this.#fatal?.message ?? statuses.find((status) => status.lastError)?.lastError ?? null,
    };
  }

  /**
   * Runs until `stop()` (then stops every task, leaves the group and resolves), until every
   * task ended (local mode with bounded sources), or until a task failed with a non-retriable
   * error other than FENCED (thrown, after the others stopped and the group was left).
   */
  async run(): Promise<PipelineResult> {
    const { loaded, logger } = this.#options;
    const { config } = loaded;
    const unsplittable = unsplittableSources(loaded.sources);
    if (config.tasks > 1 && unsplittable.length > 0) {
      logger.warn(
        { pipeline: this.id, sources: unsplittable },
        'these sources cannot split into tasks: each runs whole in task 0',
      );
    }
    const hook = loaded.sink.connector.membership as TaskMembershipHook<unknown> | undefined;
    if ((config.group.enabled ?? config.tasks > 1) && !hook) {
      logger.warn(
        { pipeline: this.id, sink: loaded.sink.type },
        'the sink keeps no group membership: this instance runs every task itself',
      );
    }
    const signal = this.#stopController.signal;
    let ended = false;
    try {
      if (this.grouped && hook) {
        this.#membership = hook.create(
          loaded.sink.options,
          this.id,
          config.tasks,
          { name: 'sink', logger: logger.child({ pipeline: this.id }), signal: this.#options.signal },
          config.group.sessionTimeout,
          config.group.livenessTimeout,
        );
        await this.#join(this.#membership);
        logger.info({ pipeline: this.id, instance: this.#membership.instance }, 'joined the task group');
      } else {
        this.#joined = true;
        await this.#assign(this.#plans.map((plan) => plan.index));
      }
      while (!signal.aborted && !this.#fatal) {
        if (!this.grouped && this.#options.untilIdle && this.#running.size === 0) {
          ended = true;
          break;
        }
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
          setTimeout(resolve, 1_000).unref();
        });
      }
    } finally {
      this.#owned = [];
      await Promise.all([...this.#running.keys()].map((index) => this.#stopTask(index)));
      await this.#membership?.leave();
    }
    if (this.#fatal) throw this.#fatal;
    return { status: this.status(), reason: ended ? 'ended' : 'stopped' };
  }

  /** Joins the group, retrying retriable failures (brokers not reachable yet) until stopped. */
  async #join(membership: TaskMembership): Promise<void> {
    const signal = this.#stopController.signal;
    for (let attempt = 1; !signal.aborted; attempt += 1) {
      try {
        await membership.join((tasks) => this.#assign(tasks));
        this.#joined = true;
        return;
      } catch (thrown) {
        const error = toTidemarkError(thrown);
        if (!error.retriable) throw error;
        const wait = Math.min(10_000, 500 * 2 ** Math.min(attempt, 5));
        this.#options.logger.warn(
          { pipeline: this.id, err: error.message, attempt, backoffMs: wait },
          'joining the task group failed; retrying',
        );
        await sleep(wait, signal).catch(() => undefined);
      }
    }
  }

  /** Makes the running tasks exactly `tasks`: stops the lost ones first, then starts the gained. */
  async #assign(tasks: readonly number[]): Promise<void> {
    const wanted = tasks.filter((index) => index < this.#plans.length);
    const lost = [...this.#running.keys()].filter((index) => !wanted.includes(index));
    this.#owned = wanted;
    if (lost.length > 0)
      this.#options.logger.info({ pipeline: this.id, tasks: lost }, 'stopping revoked tasks');
    await Promise.all(lost.map((index) => this.#stopTask(index)));
    if (this.#stopController.signal.aborted) return;
    for (const index of wanted) if (!this.#running.has(index)) this.#startTask(index);
    this.#wake();
  }

  async #stopTask(index: number): Promise<void> {
    const run = this.#running.get(index);
    if (!run) return;
    run.pipeline.stop();
    await run.done;
  }

  #startTask(index: number): void {
    const { logger } = this.#options;
    const plan = this.#plans[index]!;
    if (plan.sources.length === 0) {
      logger.info({ pipeline: this.id, task: plan.taskId }, 'the task has no input: holding it idle');
      return;
    }
    const sources = plan.sources.map((planned) => {
      const loaded = this.#options.loaded.sources.find((source) => source.name === planned.name)!;
      return { ...loaded, options: planned.options };
    });
    const base = this.#options.observer;
    const observer: PipelineObserver = {
      ...base,
      onLag: (info) => {
        const lags = this.#lags.get(index) ?? new Map<string, number>();
        this.#lags.set(index, lags.set(info.source, info.lag));
        base.onLag?.(info);
      },
    };
    const { taskId } = taskIdentity(this.id, index, this.#plans.length);
    const pipeline = this.#options.build({ ...(taskId === undefined ? {} : { taskId }), sources }, observer);
    this.#acquisitions.set(index, (this.#acquisitions.get(index) ?? 0) + 1);
    logger.info({ pipeline: this.id, task: plan.taskId }, 'starting task');
    const done = pipeline.run().then(
      (result) => {
        logger.info({ pipeline: this.id, task: plan.taskId, reason: result.reason }, 'task stopped');
      },
      (thrown: unknown) => {
        const error = toTidemarkError(thrown);
        if (error.code === 'FENCED') {
          logger.warn({ pipeline: this.id, task: plan.taskId }, 'task taken over by another instance');
          if (this.grouped && this.#owned.includes(index)) this.#retakeLater(index);
          return;
        }
        logger.error(
          { pipeline: this.id, task: plan.taskId, code: error.code, err: error.message },
          'task failed',
        );
        this.#fatal ??= error;
        this.#wake();
      },
    );
    const run: TaskRun = {
      pipeline,
      done: done.finally(() => {
        this.#last.set(index, pipeline.status());
        if (this.#running.get(index) === run) this.#running.delete(index);
        this.#wake();
      }),
    };
    this.#running.set(index, run);
  }

  /** A task fenced while the group still says it is ours: take it back once the group settled. */
  #retakeLater(index: number): void {
    setTimeout(() => {
      if (this.#stopController.signal.aborted || !this.#owned.includes(index) || this.#running.has(index))
        return;
      this.#startTask(index);
    }, this.#options.loaded.config.group.sessionTimeout).unref();
  }
}

/** True when a pipeline runs through {@link TaskCluster}: several tasks, or group membership asked for. */
export function runsAsTasks(loaded: LoadedPipeline): boolean {
  return loaded.config.tasks > 1 || loaded.config.group.enabled === true;
}
