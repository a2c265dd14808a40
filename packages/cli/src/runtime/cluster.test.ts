import {
  type Pipeline,
  type PipelineStatus,
  silentLogger,
  splitBySlice,
  type TaskMembership,
  TidemarkError,
} from '@tidemark/core';
import { describe, expect, it } from 'vitest';
import type { LoadedPipeline } from '../config/load.js';
import { pipelineSchema } from '../config/schema.js';
import { TaskCluster } from './cluster.js';

type Finish = { resolve: () => void; reject: (error: unknown) => void };

/** A task pipeline that runs until stopped, or fails when told to. */
class FakeTask {
  stopped = false;
  readonly #finish: Finish;
  readonly done: Promise<void>;
  readonly taskId: string | undefined;
  readonly options: unknown;
  constructor(taskId: string | undefined, options: unknown) {
    this.taskId = taskId;
    this.options = options;
    let finish!: Finish;
    this.done = new Promise<void>((resolve, reject) => {
      finish = { resolve, reject };
    });
    this.#finish = finish;
  }
  readonly id = 'p';
  async run() {
    await this.done;
    return { status: this.status(), reason: 'stopped' as const };
  }
  stop() {
    this.stopped = true;
    this.#finish.resolve();
  }
  fail(error: TidemarkError) {
    this.#finish.reject(error);
  }
  status(): PipelineStatus {
    return {
      id: 'p',
      state: this.stopped ? 'stopped' : 'running',
      recordsIn: 1,
      recordsOut: 1,
      commits: 1,
      rewinds: 0,
      lastCommitAt: null,
      committed: { watermarks: {}, rowtime: null, committedAt: null },
      lastError: null,
    };
  }
}

class FakeMembership implements TaskMembership {
  readonly instance = 'host:1';
  readonly evictions = 2;
  left = false;
  #onAssignment: ((tasks: readonly number[]) => Promise<void>) | undefined;
  async join(onAssignment: (tasks: readonly number[]) => Promise<void>) {
    this.#onAssignment = onAssignment;
  }
  assign(tasks: number[]) {
    return this.#onAssignment!(tasks);
  }
  async leave() {
    this.left = true;
  }
}

function setup(tasks: number, group: boolean | undefined, options: Record<string, unknown> = {}) {
  const membership = new FakeMembership();
  const created: unknown[][] = [];
  const loaded = {
    config: pipelineSchema.parse({
      name: 'p',
      sources: [{ name: 'in', type: 'kafka' }],
      sink: { type: 'kafka' },
      tasks,
      ...(group === undefined ? {} : { group: { enabled: group, ...options } }),
    }),
    sources: [
      {
        name: 'in',
        type: 'kafka',
        connector: { type: 'kafka', split: (config: object, n: number) => splitBySlice(config, n) },
        options: { topics: ['t'] },
      },
    ],
    sink: {
      type: 'kafka',
      connector: {
        membership: {
          create: (...args: unknown[]) => {
            created.push(args.slice(4));
            return membership;
          },
        },
      },
      options: {},
    },
    transforms: [],
  } as unknown as LoadedPipeline;
  const built: FakeTask[] = [];
  const cluster = new TaskCluster({
    loaded,
    logger: silentLogger,
    signal: new AbortController().signal,
    build: (task) => {
      const fake = new FakeTask(task.taskId, task.sources[0]?.options);
      built.push(fake);
      return fake as unknown as Pipeline;
    },
    observer: {},
    untilIdle: false,
  });
  return { cluster, membership, built, created };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 10));

describe('TaskCluster', () => {
  it('runs every task itself without group membership, each with its slice and identity', async () => {
    const { cluster, built } = setup(3, false);
    const running = cluster.run();
    await settle();
    expect(built.map((task) => task.taskId)).toEqual(['task-0', 'task-1', 'task-2']);
    expect(built[2]!.options).toEqual({ topics: ['t'], task: { index: 2, count: 3 } });
    cluster.stop();
    await expect(running).resolves.toMatchObject({ reason: 'stopped' });
    expect(built.every((task) => task.stopped)).toBe(true);
  });

  it('stops lost tasks, starts gained ones and keeps the rest on each assignment', async () => {
    const { cluster, membership, built } = setup(4, undefined);
    const running = cluster.run();
    await settle();
    await membership.assign([0, 1]);
    expect(built.map((task) => task.taskId)).toEqual(['task-0', 'task-1']);
    expect(cluster.status().id).toBe('p [tasks 0,1]');
    await membership.assign([1, 3]);
    expect(built.map((task) => [task.taskId, task.stopped])).toEqual([
      ['task-0', true],
      ['task-1', false],
      ['task-3', false],
    ]);
    await membership.assign([]);
    expect(cluster.status().id).toBe('p [stand-by]');
    expect(cluster.status().state).toBe('running');
    expect(cluster.tasks().filter((task) => task.owned)).toEqual([]);
    cluster.stop();
    await running;
    expect(membership.left).toBe(true);
  });

  it('hands the session and liveness timeouts to the membership and reports its evictions', async () => {
    const defaults = setup(2, true);
    const running = defaults.cluster.run();
    await settle();
    expect(defaults.created).toEqual([[6_000, 2_000]]);
    expect(defaults.cluster.evictions).toBe(2);
    defaults.cluster.stop();
    await running;
    for (const [livenessTimeout, ms] of [
      ['500ms', 500],
      [false, 0],
      [0, 0],
    ] as const) {
      const { cluster, created } = setup(2, true, { sessionTimeout: '10s', livenessTimeout });
      const run = cluster.run();
      await settle();
      expect(created).toEqual([[10_000, ms]]);
      cluster.stop();
      await run;
    }
    expect(() =>
      pipelineSchema.parse({
        name: 'p',
        sources: [{ name: 'in', type: 'kafka' }],
        sink: { type: 'kafka' },
        group: { livenessTimeout: '-1s' },
      }),
    ).toThrow();
  });

  it('keeps the plain identity for one task with stand-bys', async () => {
    const { cluster, membership, built } = setup(1, true);
    const running = cluster.run();
    await settle();
    await membership.assign([0]);
    expect(built.map((task) => task.taskId)).toEqual([undefined]);
    expect(built[0]!.options).toEqual({ topics: ['t'] });
    cluster.stop();
    await running;
  });

  it('takes a fenced task as moved elsewhere, and any other fatal failure as fatal', async () => {
    const { cluster, membership, built } = setup(2, true);
    const running = cluster.run();
    await settle();
    await membership.assign([0, 1]);
    built[0]!.fail(new TidemarkError('FENCED', 'fenced by a newer instance'));
    await settle();
    expect(cluster.status().state).toBe('running');
    built[1]!.fail(new TidemarkError('CONFIG_INVALID', 'bad topic', { fix: 'fix it' }));
    await expect(running).rejects.toThrow('bad topic');
    expect(membership.left).toBe(true);
  });
});
