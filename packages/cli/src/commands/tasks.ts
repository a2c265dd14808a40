import {
  type CommittedState,
  type PipelineWatermarks,
  type RunLeaseHook,
  resplitWatermarks,
  silentLogger,
  type TaskGroupMember,
  type TaskMembershipHook,
  TidemarkError,
  taskIdentity,
  type Watermark,
} from '@tidemark/core';
import type { Command } from 'commander';
import { type LoadedPipeline, loadConfigFile } from '../config/load.js';
import { createSink, createSources } from '../runtime/build.js';
import { selectPipelines } from '../runtime/run.js';

/** One task of a pipeline as `tidemark status` shows it. */
export interface TaskStatusRow {
  readonly task: number;
  /** The owning instance (host:pid), or null when no running instance owns it. */
  readonly owner: string | null;
  readonly state: 'owned' | 'unowned';
  readonly lastCommitAt: number | null;
  /** Seconds since the last commit. */
  readonly commitAgeSeconds: number | null;
  /**
   * Records between the task's committed watermark and the end of its input, for sources that
   * can say where their input ends (`watermarkAt({ latest })`, numeric positions); else null.
   */
  readonly lag: number | null;
  readonly watermarks: PipelineWatermarks;
}

export interface PipelineTaskStatus {
  readonly pipeline: string;
  readonly tasks: number;
  readonly grouped: boolean;
  readonly groupState: string | null;
  readonly rows: readonly TaskStatusRow[];
  readonly standby: readonly string[];
}

const context = (name: string) => ({ name, logger: silentLogger, signal: new AbortController().signal });

async function committedStates(loaded: LoadedPipeline, count: number): Promise<CommittedState[]> {
  const controller = new AbortController();
  const sink = createSink(loaded, silentLogger, controller.signal);
  try {
    const states: CommittedState[] = [];
    for (let index = 0; index < count; index += 1)
      states.push(await sink.readCommitted(taskIdentity(loaded.config.name, index, count)));
    return states;
  } finally {
    controller.abort();
    await sink.close().catch(() => undefined);
  }
}

/** Where each source's input ends now (unit → position), for sources that can tell. */
async function inputEnds(loaded: LoadedPipeline): Promise<Map<string, Watermark>> {
  const controller = new AbortController();
  const sources = createSources(loaded, silentLogger, controller.signal);
  const ends = new Map<string, Watermark>();
  try {
    for (const source of sources) {
      if (!source.watermarkAt) continue;
      const end = await source.watermarkAt({ latest: true }).catch(() => undefined);
      if (end) ends.set(source.name, end);
    }
  } finally {
    controller.abort();
    for (const source of sources) await source.close().catch(() => undefined);
  }
  return ends;
}

/** Records from `committed` to `ends` over the units task `task` owns; null when positions are not numbers. */
function lagOf(
  loaded: LoadedPipeline,
  ends: Map<string, Watermark>,
  committed: PipelineWatermarks,
  task: number,
  count: number,
): number | null {
  let lag = 0n;
  let known = false;
  for (const source of loaded.sources) {
    const end = ends.get(source.name);
    if (!end) continue;
    for (const [unit, position] of Object.entries(end)) {
      const owner = source.connector.taskOfUnit ? source.connector.taskOfUnit(unit, count) % count : 0;
      if (owner !== task) continue;
      const at = committed[source.name]?.[unit] ?? '0';
      if (
        typeof position !== 'string' ||
        typeof at !== 'string' ||
        !/^\d+$/.test(position) ||
        !/^\d+$/.test(at)
      )
        return null;
      known = true;
      if (BigInt(position) > BigInt(at)) lag += BigInt(position) - BigInt(at);
    }
  }
  return known ? Number(lag) : null;
}

async function groupMembers(
  loaded: LoadedPipeline,
): Promise<{ state: string; members: readonly TaskGroupMember[] } | null> {
  const hook = loaded.sink.connector.membership as TaskMembershipHook<unknown> | undefined;
  if (!hook) return null;
  return hook.describe(loaded.sink.options, loaded.config.name, context('sink'));
}

/** Every task of a pipeline: owner, committed state; and the stand-by instances. */
export async function pipelineTaskStatus(
  loaded: LoadedPipeline,
  now = Date.now(),
): Promise<PipelineTaskStatus> {
  const count = loaded.config.tasks;
  const group = await groupMembers(loaded);
  const states = await committedStates(loaded, count);
  const ends = await inputEnds(loaded);
  const rows = states.map((state, task) => {
    const owner = group?.members.find((member) => member.tasks.includes(task));
    return {
      task,
      owner: owner?.instance ?? null,
      state: owner ? ('owned' as const) : ('unowned' as const),
      lastCommitAt: state.committedAt,
      commitAgeSeconds:
        state.committedAt === null ? null : Math.max(0, Math.round((now - state.committedAt) / 1000)),
      lag: lagOf(loaded, ends, state.watermarks, task, count),
      watermarks: state.watermarks,
    };
  });
  return {
    pipeline: loaded.config.name,
    tasks: count,
    grouped: group !== null,
    groupState: group?.state ?? null,
    rows,
    standby: (group?.members ?? [])
      .filter((member) => member.tasks.length === 0)
      .map((member) => member.instance),
  };
}

/** The text `tidemark status` prints for one pipeline. */
export function formatTaskStatus(status: PipelineTaskStatus): string {
  const lines = [
    `pipeline ${status.pipeline}: ${status.tasks} task${status.tasks === 1 ? '' : 's'}${status.grouped ? (status.rows.some((row) => row.owner) || status.standby.length > 0 ? `, group ${status.groupState}` : ', no instance running') : ''}`,
    '  task  state    owner                          last commit               age     lag',
  ];
  for (const row of status.rows) {
    lines.push(
      `  ${String(row.task).padEnd(4)}  ${row.state.padEnd(7)}  ${(row.owner ?? '-').padEnd(30)} ${(row.lastCommitAt === null ? '-' : new Date(row.lastCommitAt).toISOString()).padEnd(25)} ${(row.commitAgeSeconds === null ? '-' : `${row.commitAgeSeconds}s`).padEnd(7)} ${row.lag ?? '-'}`,
    );
  }
  lines.push(`  stand-by: ${status.standby.length === 0 ? '(none)' : status.standby.join(', ')}`);
  return lines.join('\n');
}

/** `tidemark status <file>`: every task of every selected pipeline. */
export async function showStatus(options: {
  readonly file: string;
  readonly pipelines?: readonly string[] | undefined;
  readonly json: boolean;
  readonly environment: NodeJS.ProcessEnv;
}): Promise<string> {
  const config = await loadConfigFile(options.file, { environment: options.environment });
  const statuses = await Promise.all(
    selectPipelines(config, options.pipelines).map((loaded) => pipelineTaskStatus(loaded)),
  );
  return options.json ? JSON.stringify(statuses, null, 2) : statuses.map(formatTaskStatus).join('\n\n');
}

/**
 * `tidemark tasks resize`: moves a stopped pipeline from `from` tasks to the `tasks:` of the
 * file. Reads every old task's committed watermarks, re-splits them by the sources'
 * `taskOfUnit` (each unit keeps its committed position, now in the task that owns it) and
 * commits each new task's share through the sink, transactionally, with no records. Refuses
 * while any instance runs the pipeline (run lease or task group not empty).
 */
export async function resizeTasks(
  file: string,
  pipelineName: string,
  from: number,
  environment: NodeJS.ProcessEnv,
): Promise<string> {
  const config = await loadConfigFile(file, { environment });
  const [loaded] = selectPipelines(config, [pipelineName]);
  if (!loaded) throw new TidemarkError('CONFIG_INVALID', `no pipeline named '${pipelineName}'`);
  const to = loaded.config.tasks;
  if (!Number.isInteger(from) || from < 1) {
    throw new TidemarkError('CONFIG_INVALID', `--from must be a positive integer, not '${from}'`, {
      fix: 'Pass the number of tasks the pipeline last ran with.',
    });
  }
  const lease = loaded.sink.connector.lease as RunLeaseHook<unknown> | undefined;
  if (lease) await lease.assertFree(loaded.sink.options, pipelineName, context('sink'));
  const group = await groupMembers(loaded);
  if (group && group.members.length > 0) {
    throw new TidemarkError(
      'ILLEGAL_STATE',
      `pipeline '${pipelineName}' is running: ${group.members.map((member) => member.instance).join(', ')}`,
      { fix: 'Stop every instance (SIGTERM) first, then resize.' },
    );
  }
  if (from === to)
    return `pipeline ${pipelineName} already has ${to} task${to === 1 ? '' : 's'}; nothing to do`;
  const old = await committedStates(loaded, from);
  const resplit = resplitWatermarks(
    old.map((state) => state.watermarks),
    loaded.sources,
    to,
  );
  const rowtimes = old.map((state) => state.rowtime).filter((rowtime): rowtime is number => rowtime !== null);
  const rowtime = rowtimes.length === 0 ? null : Math.min(...rowtimes);
  const controller = new AbortController();
  const lines = [`pipeline ${pipelineName}: ${from} → ${to} tasks`];
  try {
    for (let index = 0; index < to; index += 1) {
      const sink = createSink(loaded, silentLogger, controller.signal);
      try {
        await sink.open(taskIdentity(pipelineName, index, to));
        await sink.begin();
        await sink.commit({ watermarks: resplit[index]!, rowtime });
      } finally {
        await sink.close().catch(() => undefined);
      }
      lines.push(`  task ${index}: ${JSON.stringify(resplit[index])}`);
    }
    // Retire the old identities the new split does not reuse, so nothing stale is read later.
    const reused = new Set(
      Array.from({ length: to }, (_, index) => taskIdentity(pipelineName, index, to).taskId),
    );
    for (let index = 0; index < from; index += 1) {
      const identity = taskIdentity(pipelineName, index, from);
      if (reused.has(identity.taskId)) continue;
      const sink = createSink(loaded, silentLogger, controller.signal);
      try {
        await sink.open(identity);
        await sink.begin();
        await sink.commit({ watermarks: {}, rowtime: null });
      } finally {
        await sink.close().catch(() => undefined);
      }
    }
  } finally {
    controller.abort();
  }
  return lines.join('\n');
}

/** `tidemark status <file>` and `tidemark tasks resize`. */
export function registerTaskCommands(
  program: Command,
  write: (text: string) => void,
  environment: NodeJS.ProcessEnv,
): void {
  program
    .command('status')
    .description(
      'Every task of each pipeline: owner instance, state, last commit; and the stand-by instances.',
    )
    .argument('<file>', 'YAML configuration file')
    .option('-p, --pipeline <name>', 'only this pipeline (repeatable)', collect)
    .option('--json', 'machine-readable output')
    .action(async (file: string, options: { pipeline?: string[]; json?: boolean }) => {
      write(
        await showStatus({ file, pipelines: options.pipeline, json: options.json === true, environment }),
      );
    });
  program
    .command('tasks')
    .description('Change how many tasks a pipeline runs as.')
    .command('resize')
    .description(
      "Re-split a stopped pipeline's committed watermarks from --from tasks into the file's `tasks:` (set it first).",
    )
    .argument('<file>', 'YAML configuration file')
    .requiredOption('-p, --pipeline <name>', 'the pipeline to resize')
    .requiredOption('--from <count>', 'the number of tasks it last ran with', (text) => Number(text))
    .action(async (file: string, options: { pipeline: string; from: number }) => {
      write(await resizeTasks(file, options.pipeline, options.from, environment));
    });
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
