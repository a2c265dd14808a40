import { z } from 'zod';
import type { SourceConnector } from '../connector.js';
import { TidemarkError } from '../errors.js';
import type { PipelineIdentity } from '../sink.js';
import type { PipelineWatermarks, Watermark } from '../watermark.js';

/**
 * The slice of a split source one task reads: units whose task is `index` among `count`. Set by
 * the runtime through the source's `split`; a configuration without it reads every unit.
 */
export const taskSliceSchema = z
  .strictObject({
    index: z.number().int().nonnegative().describe('This task (0-based).'),
    count: z.number().int().positive().describe('Number of tasks.'),
  })
  .refine((slice) => slice.index < slice.count, 'index must be below count')
  .optional()
  .describe('Set by the runtime when the pipeline runs as several tasks (`tasks:`); leave unset.');

export type TaskSlice = z.output<typeof taskSliceSchema>;

/** 32-bit FNV-1a of `text`: a unit's hash that is the same in every process and version. */
export function stableUnitHash(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/** Task owning a unit identified by `text` among `count` tasks, by {@link stableUnitHash}. */
export function taskOfHashedUnit(text: string, count: number): number {
  return stableUnitHash(text) % count;
}

/** True when `slice` (absent: the whole source) includes the unit whose task is `task`. */
export function sliceOwns(slice: TaskSlice, task: number): boolean {
  return slice === undefined || task % slice.count === slice.index;
}

/** A source configuration split for every task: `index` → `{ ...config, task: { index, count } }`. */
export function splitBySlice<Config extends object>(config: Config, count: number): Config[] {
  return Array.from({ length: count }, (_, index) => ({ ...config, task: { index, count } }));
}

/**
 * Splits a list of independent units configured by name (queues, streams) over `count` tasks by
 * {@link taskOfHashedUnit}: entry n holds the units of task n, or null when it has none.
 */
export function splitUnitList(units: readonly string[], count: number): (string[] | null)[] {
  const parts: string[][] = Array.from({ length: count }, () => []);
  for (const unit of units) parts[taskOfHashedUnit(unit, count)]!.push(unit);
  return parts.map((part) => (part.length === 0 ? null : part));
}

/** The identity suffix of task `index`: `task-<index>` (transactional id `…<pipeline>/task-<index>`). */
export function taskIdOf(index: number): string {
  return `task-${index}`;
}

/**
 * The sink identity of task `index` of `count`: the plain pipeline identity for one task (so
 * adding stand-by instances keeps a pipeline's committed state), `task-<index>` otherwise.
 */
export function taskIdentity(pipelineId: string, index: number, count: number): PipelineIdentity {
  return count === 1 ? { pipelineId } : { pipelineId, taskId: taskIdOf(index) };
}

/** One configured source of a pipeline, as the planner sees it. */
export interface PlannedSource {
  readonly name: string;
  readonly connector: Pick<SourceConnector, 'type' | 'split' | 'taskOfUnit'>;
  readonly options: unknown;
}

/** What one task runs: its number, identity suffix and the sources (with split options) it reads. */
export interface TaskPlan {
  readonly index: number;
  readonly taskId: string;
  readonly sources: readonly PlannedSource[];
}

/**
 * Splits a pipeline's sources into `count` tasks. A source with `split` contributes one slice
 * to every task; a source without it runs whole in task 0. Throws CONFIG_INVALID when `split`
 * does not return `count` configurations.
 */
export function planTasks(sources: readonly PlannedSource[], count: number): TaskPlan[] {
  const plans = Array.from({ length: count }, (_, index) => ({
    index,
    taskId: taskIdOf(index),
    sources: [] as PlannedSource[],
  }));
  for (const source of sources) {
    if (count === 1 || !source.connector.split) {
      plans[0]!.sources.push(source);
      continue;
    }
    const parts = source.connector.split(source.options as never, count);
    if (parts.length !== count) {
      throw new TidemarkError(
        'CONFIG_INVALID',
        `source '${source.name}' (${source.connector.type}) split into ${parts.length} tasks instead of ${count}`,
        { fix: 'Fix the connector: split(config, n) must return n configurations.' },
      );
    }
    parts.forEach((options, index) => {
      if (options !== null) plans[index]!.sources.push({ ...source, options });
    });
  }
  return plans;
}

/** Names of sources that cannot split (they run whole in task 0). */
export function unsplittableSources(sources: readonly PlannedSource[]): string[] {
  return sources.filter((source) => !source.connector.split).map((source) => source.name);
}

function ownerOf(source: PlannedSource, unit: string, count: number): number {
  return source.connector.taskOfUnit ? source.connector.taskOfUnit(unit, count) % count : 0;
}

/**
 * Re-splits the committed watermarks of `old.length` tasks into `newCount` tasks: each unit's
 * position is taken from the task that owned it (its only writer) and handed to the task that
 * owns it among `newCount`, so every unit resumes exactly where it was committed. Pure.
 */
export function resplitWatermarks(
  old: readonly PipelineWatermarks[],
  sources: readonly PlannedSource[],
  newCount: number,
): PipelineWatermarks[] {
  if (old.length !== newCount) {
    const stuck = sources.filter((source) => source.connector.split && !source.connector.taskOfUnit);
    if (stuck.length > 0) {
      throw new TidemarkError(
        'CONFIG_INVALID',
        `source(s) ${stuck.map((source) => `'${source.name}' (${source.connector.type})`).join(', ')} cannot re-split committed watermarks`,
        { fix: 'Keep the number of tasks, or start the pipeline under a new name to change it.' },
      );
    }
  }
  const result: Record<string, Record<string, Watermark[string]>>[] = Array.from(
    { length: newCount },
    () => ({}),
  );
  for (const source of sources) {
    old.forEach((watermarks, oldIndex) => {
      const watermark = watermarks[source.name];
      if (!watermark) return;
      for (const [unit, position] of Object.entries(watermark)) {
        if (ownerOf(source, unit, old.length) !== oldIndex) continue;
        const target = result[ownerOf(source, unit, newCount)]!;
        target[source.name] = { ...(target[source.name] ?? {}), [unit]: position };
      }
    });
  }
  return result;
}
