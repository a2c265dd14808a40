import {
  type CommittedState,
  type JsonValue,
  type PipelineWatermarks,
  type RunLeaseHook,
  silentLogger,
  TidemarkError,
  taskIdentity,
  type Watermark,
} from '@tidemark/core';
import { type LoadedPipeline, loadConfigFile } from '../config/load.js';
import { createSink, createSources } from '../runtime/build.js';
import { selectPipelines } from '../runtime/run.js';

/** Where `watermarks reset --to` moves a pipeline. */
export type ResetTarget =
  | { readonly kind: 'earliest' }
  | { readonly kind: 'latest' }
  | { readonly kind: 'time'; readonly time: number }
  | { readonly kind: 'explicit'; readonly watermarks: PipelineWatermarks };

const ISO_TIME = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** Parses `--to`; CONFIG_INVALID naming what is allowed for anything else. */
export function parseResetTarget(text: string): ResetTarget {
  const trimmed = text.trim();
  if (trimmed === 'earliest') return { kind: 'earliest' };
  if (trimmed === 'latest') return { kind: 'latest' };
  if (ISO_TIME.test(trimmed) && Number.isFinite(Date.parse(trimmed)))
    return { kind: 'time', time: Date.parse(trimmed) };
  if (trimmed.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch (cause) {
      throw new TidemarkError('CONFIG_INVALID', `--to is not valid JSON: ${(cause as Error).message}`, {
        cause,
        fix: 'Quote the JSON for your shell, e.g. --to \'{"events":{"orders/0":"42"}}\'.',
      });
    }
    const valid =
      typeof parsed === 'object' &&
      parsed !== null &&
      !Array.isArray(parsed) &&
      Object.values(parsed).every(
        (entry) => typeof entry === 'object' && entry !== null && !Array.isArray(entry),
      );
    if (!valid) {
      throw new TidemarkError('CONFIG_INVALID', '--to JSON must map source name → { unit: position }', {
        fix: 'Write e.g. {"events":{"orders/0":"42"}}; `tidemark watermarks show --json` prints the current ones.',
      });
    }
    return { kind: 'explicit', watermarks: parsed as PipelineWatermarks };
  }
  throw new TidemarkError('CONFIG_INVALID', `--to '${text}' is not a reset target`, {
    fix: 'Allowed: earliest, latest, an ISO-8601 time (e.g. 2026-01-31T12:00:00Z), or a JSON watermark {"<source>":{"<unit>":<position>}}.',
  });
}

/** ISO-8601 of an epoch-ms time, or null when it has none (a rowtime stored out of range). */
export function isoOf(epochMs: number | null): string | null {
  if (epochMs === null || !Number.isFinite(epochMs)) return null;
  const date = new Date(epochMs);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

function isoOrDash(epochMs: number | null): string {
  if (epochMs === null) return '-';
  const iso = isoOf(epochMs);
  return iso === null
    ? `${epochMs} (not a time in years 1970–9999: a rowtime in another unit; the next commit replaces it)`
    : `${epochMs} (${iso})`;
}

/** One pipeline's committed state as `watermarks show` prints it. */
export function formatCommitted(pipeline: LoadedPipeline, state: CommittedState, task?: string): string {
  const lines = [
    task === undefined
      ? `pipeline ${pipeline.config.name}`
      : `pipeline ${pipeline.config.name} ${task} (of ${pipeline.config.tasks} tasks)`,
  ];
  lines.push(`  watermark_timestamp (last committed rowtime): ${isoOrDash(state.rowtime)}`);
  if (state.committedAt !== null) lines.push(`  committed at: ${isoOrDash(state.committedAt)}`);
  lines.push('  watermark_offsets:');
  const names = new Set([...pipeline.sources.map((source) => source.name), ...Object.keys(state.watermarks)]);
  for (const name of names) {
    const watermark = state.watermarks[name];
    const configured = pipeline.sources.some((source) => source.name === name);
    lines.push(
      `    ${name}: ${watermark === undefined ? '(nothing committed: starts at its configured start)' : JSON.stringify(watermark)}${configured ? '' : '  (not in the configuration any more)'}`,
    );
  }
  return lines.join('\n');
}

/** The committed state of each task of `pipeline` (one entry, task undefined, for one task). */
async function readCommitted(
  pipeline: LoadedPipeline,
): Promise<{ readonly task: string | undefined; readonly state: CommittedState }[]> {
  const controller = new AbortController();
  const sink = createSink(pipeline, silentLogger, controller.signal);
  const count = pipeline.config.tasks;
  try {
    const states = [];
    for (let index = 0; index < count; index += 1) {
      const identity = taskIdentity(pipeline.config.name, index, count);
      states.push({ task: identity.taskId, state: await sink.readCommitted(identity) });
    }
    return states;
  } finally {
    await sink.close().catch(() => undefined);
  }
}

/**
 * `tidemark watermarks show`: the committed watermark per source and the last committed rowtime;
 * for a pipeline of several tasks, one entry per task (each task commits its own watermark).
 */
export async function showWatermarks(
  file: string,
  names: readonly string[] | undefined,
  json: boolean,
  environment: NodeJS.ProcessEnv,
): Promise<string> {
  const config = await loadConfigFile(file, { environment });
  const pipelines = selectPipelines(config, names);
  const results = [];
  for (const pipeline of pipelines) {
    for (const { task, state } of await readCommitted(pipeline)) results.push({ pipeline, task, state });
  }
  if (json) {
    return JSON.stringify(
      results.map(({ pipeline, task, state }) => ({
        pipeline: pipeline.config.name,
        ...(task === undefined ? {} : { task }),
        watermarks: state.watermarks,
        rowtime: state.rowtime,
        rowtimeIso: isoOf(state.rowtime),
        committedAt: state.committedAt,
      })),
      null,
      2,
    );
  }
  return results.map(({ pipeline, task, state }) => formatCommitted(pipeline, state, task)).join('\n\n');
}

/**
 * Optional source capability used by `reset --to latest|<time>`: a source that can translate a
 * point in its stream into a watermark exposes `watermarkAt` on the object `create` returns.
 * It is called on an unopened source and must open and release whatever it needs itself.
 */
interface WatermarkTranslator {
  watermarkAt(target: { readonly latest: true } | { readonly time: number }): Promise<Watermark>;
}

function canTranslate(value: unknown): value is WatermarkTranslator {
  return typeof (value as Partial<WatermarkTranslator>).watermarkAt === 'function';
}

/**
 * Checks an explicit `--to` watermark the way the next run would take it: each named source is
 * created and opened with its entry (then closed), so a watermark of the wrong shape fails now
 * with WATERMARK_INVALID naming the source, not at the next `tidemark run`.
 */
async function checkExplicit(pipeline: LoadedPipeline, watermarks: PipelineWatermarks): Promise<void> {
  const controller = new AbortController();
  const sources = createSources(pipeline, silentLogger, controller.signal);
  try {
    for (const source of sources) {
      const watermark = watermarks[source.name];
      if (watermark === undefined) continue;
      try {
        await source.open(watermark);
      } catch (error) {
        if (!TidemarkError.isInstance(error) || error.code !== 'WATERMARK_INVALID') throw error;
        throw new TidemarkError(
          'WATERMARK_INVALID',
          `--to: the watermark for source '${source.name}' is not one it accepts: ${error.message}`,
          {
            cause: error,
            fix: `Copy the shape from \`tidemark watermarks show --json\` for source '${source.name}', or use --to earliest|latest|<time>.`,
          },
        );
      }
    }
  } finally {
    controller.abort();
    for (const source of sources) await source.close().catch(() => undefined);
  }
}

async function translate(pipeline: LoadedPipeline, target: ResetTarget): Promise<Record<string, Watermark>> {
  const controller = new AbortController();
  const sources = createSources(pipeline, silentLogger, controller.signal);
  const result: Record<string, Watermark> = {};
  try {
    for (const [index, source] of sources.entries()) {
      const loaded = pipeline.sources[index]!;
      // Earliest: the source gets no committed watermark at all, so its next open applies the
      // configured start exactly as a first run does (an empty watermark would mean "every unit
      // is new", which a file source reads from byte 0 even with start: latest).
      if (target.kind === 'earliest') continue;
      if (!canTranslate(source)) {
        throw new TidemarkError(
          'CONFIG_INVALID',
          `source '${source.name}' (${loaded.connector.packageName}) cannot translate ${target.kind === 'latest' ? "'latest'" : 'a time'} into a watermark`,
          {
            fix: 'Use --to earliest (the configured start) or an explicit JSON watermark for this pipeline.',
          },
        );
      }
      result[source.name] = await source.watermarkAt(
        target.kind === 'latest' ? { latest: true } : { time: (target as { time: number }).time },
      );
    }
  } finally {
    controller.abort();
    for (const source of sources) await source.close().catch(() => undefined);
  }
  return result;
}

/**
 * `tidemark watermarks reset`: a deliberate rewind, written transactionally through the sink
 * (open — which fences older instances — then begin, commit of the new watermarks with no
 * records, close). Refuses while the pipeline holds its liveness lease unless `force`.
 *
 * - earliest: every source's watermark is removed, so each starts at its configured start.
 * - latest / a time: each source translates the target (sources without that capability fail).
 * - JSON: the named sources get exactly that watermark; the others keep their committed one.
 */
export async function resetWatermarks(
  file: string,
  pipelineName: string,
  targetText: string,
  force: boolean,
  environment: NodeJS.ProcessEnv,
): Promise<string> {
  const target = parseResetTarget(targetText);
  const config = await loadConfigFile(file, { environment });
  const [pipeline] = selectPipelines(config, [pipelineName]);
  if (!pipeline) throw new TidemarkError('CONFIG_INVALID', `no pipeline named '${pipelineName}'`);
  if (pipeline.config.tasks > 1) {
    throw new TidemarkError(
      'CONFIG_INVALID',
      `pipeline '${pipelineName}' runs as ${pipeline.config.tasks} tasks, each with its own watermark`,
      {
        fix: `Resize it to one task first (set tasks: 1, then tidemark tasks resize --from ${pipeline.config.tasks}), reset, then resize back.`,
      },
    );
  }
  const sourceNames = pipeline.sources.map((source) => source.name);
  if (target.kind === 'explicit') {
    const unknown = Object.keys(target.watermarks).filter((name) => !sourceNames.includes(name));
    if (unknown.length > 0) {
      throw new TidemarkError(
        'CONFIG_INVALID',
        `--to names unknown source${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}`,
        {
          fix: `Sources of pipeline ${pipelineName}: ${sourceNames.join(', ')}.`,
        },
      );
    }
  }
  if (!force) {
    const lease = pipeline.sink.connector.lease as RunLeaseHook<unknown> | undefined;
    if (!lease) {
      throw new TidemarkError(
        'ILLEGAL_STATE',
        `cannot check whether pipeline '${pipelineName}' is running: its sink (${pipeline.sink.connector.packageName}) keeps no run lease`,
        {
          fix: 'Make sure it is stopped, then pass --force.',
        },
      );
    }
    await lease.assertFree(pipeline.sink.options, pipelineName, {
      name: 'sink',
      logger: silentLogger,
      signal: new AbortController().signal,
    });
  }
  if (target.kind === 'explicit') await checkExplicit(pipeline, target.watermarks);
  const translated = target.kind === 'explicit' ? {} : await translate(pipeline, target);

  const controller = new AbortController();
  const sink = createSink(pipeline, silentLogger, controller.signal);
  try {
    const before = await sink.open({ pipelineId: pipelineName });
    const watermarks: Record<string, Watermark> =
      target.kind === 'explicit' ? { ...before.watermarks, ...target.watermarks } : translated;
    const rowtime = target.kind === 'time' ? target.time : null;
    await sink.begin();
    try {
      await sink.commit({ watermarks, rowtime });
    } catch (error) {
      if (!TidemarkError.hasCode(error, 'COMMIT_UNCERTAIN')) await sink.abort().catch(() => undefined);
      throw error;
    }
    return [
      `pipeline ${pipelineName}: watermarks reset to ${targetText}`,
      `  before: ${JSON.stringify(before.watermarks as JsonValue)} rowtime ${isoOrDash(before.rowtime)}`,
      `  after:  ${JSON.stringify(watermarks as JsonValue)} rowtime ${isoOrDash(rowtime)}`,
      '  the next `tidemark run` resumes from there.',
    ].join('\n');
  } finally {
    controller.abort();
    await sink.close().catch(() => undefined);
  }
}
