import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import {
  ConfigError,
  type ConfigIssue,
  type SinkConnector,
  type SourceConnector,
  type TidemarkError,
  type Transform,
  toTidemarkError,
} from '@tidemark/core';
import {
  allowedKeysAt,
  type ConfigPath,
  describeConfigIssues,
  type PathIssue,
  rejectsUnknownKeys,
} from '@tidemark/sdk';
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { type ConnectorKind, loadConnector } from '../connectors/resolve.js';
import { loadTransform } from '../runtime/transforms.js';
import { interpolateEnvironment } from './env.js';
import { formatPath, PositionMap } from './positions.js';
import { configFileSchema, type PipelineConfig, pipelineSchema } from './schema.js';
import { stagesIssues } from './stages-check.js';

/** A source of a loaded pipeline: its connector and validated options. */
export interface LoadedSource {
  readonly name: string;
  readonly type: string;
  readonly connector: SourceConnector;
  readonly options: unknown;
}

export interface LoadedSink {
  readonly type: string;
  readonly connector: SinkConnector;
  readonly options: unknown;
}

/** One pipeline, fully validated and with its connectors and transforms loaded. */
export interface LoadedPipeline {
  readonly config: PipelineConfig;
  readonly sources: readonly LoadedSource[];
  readonly sink: LoadedSink;
  readonly transforms: readonly Transform[];
}

export interface LoadedConfig {
  /** Absolute path of the file. */
  readonly file: string;
  readonly pipelines: readonly LoadedPipeline[];
  /** Places a problem found later (e.g. by `validate --connect`) in the file. */
  locate(path: ConfigPath, message: string): ConfigIssue;
}

export interface LoadOptions {
  readonly environment?: NodeJS.ProcessEnv;
  /** Shown in messages instead of the absolute path (default: the path as given). */
  readonly displayName?: string;
}

type AnyConnector = SourceConnector | SinkConnector;

/**
 * Reads, interpolates and validates a configuration file, resolves every connector and
 * transform, and runs the semantic checks. Every problem is collected: the ConfigError thrown
 * lists them all, each with file, line, column, YAML path and what is allowed.
 */
export async function loadConfigFile(path: string, options: LoadOptions = {}): Promise<LoadedConfig> {
  const file = resolve(path);
  const display = options.displayName ?? path;
  const directory = dirname(file);
  const fail = (issues: ConfigIssue[]): never => {
    throw new ConfigError(
      `${display}: ${issues.length} configuration problem${issues.length === 1 ? '' : 's'}`,
      issues,
      {
        fix: 'Fix each problem listed; `tidemark schema` prints a JSON Schema for editor completion.',
      },
    );
  };

  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    return fail([
      { file: display, path: '(root)', message: `cannot read the file: ${(cause as Error).message}` },
    ]);
  }
  const lines = new LineCounter();
  const document = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  if (document.errors.length > 0) {
    return fail(
      document.errors.map((error) => ({
        file: display,
        path: '(root)',
        message: `YAML syntax: ${error.message.split('\n')[0]}`,
        ...(error.linePos ? { line: error.linePos[0].line, column: error.linePos[0].col } : {}),
      })),
    );
  }
  const positions = new PositionMap(document, lines);
  const place = (issue: PathIssue): ConfigIssue => {
    const position = positions.find(issue.path, { key: issue.atKey === true });
    return {
      file: display,
      path: formatPath(issue.path),
      message: issue.message,
      ...(position ? { line: position.line, column: position.column } : {}),
    };
  };
  const issues: PathIssue[] = [];
  const environment = { ...(options.environment ?? process.env), TIDEMARK_CONFIG_DIR: directory };
  for (const missing of interpolateEnvironment(document, environment)) {
    issues.push({
      path: missing.path,
      message: `environment variable ${missing.name} is not set and has no default (write \${${missing.name}:-value} to give one)`,
    });
  }
  const raw = document.toJS() as unknown;
  if (raw === null || raw === undefined) {
    return fail([
      {
        file: display,
        path: '(root)',
        line: 1,
        column: 1,
        message: 'the file is empty: it needs a `pipelines:` list',
      },
    ]);
  }
  const parsed = configFileSchema.safeParse(raw);
  if (!parsed.success) issues.push(...describeConfigIssues(parsed.error, configFileSchema, raw));

  const rawPipelines = Array.isArray((raw as { pipelines?: unknown }).pipelines)
    ? ((raw as { pipelines: unknown[] }).pipelines as unknown[])
    : [];
  const connectorCache = new Map<string, Promise<AnyConnector>>();
  const getConnector = (kind: ConnectorKind, type: string) => {
    const key = `${kind}:${type}`;
    let pending = connectorCache.get(key);
    if (!pending) {
      pending = loadConnector(kind, type, directory).then((resolved) => resolved.connector as AnyConnector);
      connectorCache.set(key, pending);
    }
    return pending;
  };

  const loaded: (LoadedPipeline | undefined)[] = [];
  const pipelineNames = new Map<string, number>();
  for (const [index, rawPipeline] of rawPipelines.entries()) {
    const base: ConfigPath = ['pipelines', index];
    const pipelineIssues: PathIssue[] = [];
    const record = isObject(rawPipeline) ? rawPipeline : {};
    if (typeof record.name === 'string') {
      const first = pipelineNames.get(record.name);
      if (first !== undefined) {
        pipelineIssues.push({
          path: [...base, 'name'],
          message: `duplicate pipeline name '${record.name}' (also pipelines[${first}])`,
        });
      } else pipelineNames.set(record.name, index);
    }

    const sources: (LoadedSource | undefined)[] = [];
    const rawSources = Array.isArray(record.sources) ? record.sources : [];
    const sourceNames = new Map<string, number>();
    for (const [sourceIndex, rawSource] of rawSources.entries()) {
      const path: ConfigPath = [...base, 'sources', sourceIndex];
      if (!isObject(rawSource)) continue;
      if (typeof rawSource.name === 'string') {
        const first = sourceNames.get(rawSource.name);
        if (first !== undefined) {
          pipelineIssues.push({
            path: [...path, 'name'],
            message: `duplicate source name '${rawSource.name}' (also sources[${first}]): source names key the watermarks and must be unique in a pipeline`,
          });
        } else sourceNames.set(rawSource.name, sourceIndex);
      }
      if (typeof rawSource.type !== 'string') continue;
      const { name, type, ...rest } = rawSource;
      const result = await validateConnector(getConnector, 'source', type, rest, path, ['name', 'type']);
      pipelineIssues.push(...result.issues);
      sources.push(
        result.connector && typeof name === 'string'
          ? { name, type, connector: result.connector as SourceConnector, options: result.options }
          : undefined,
      );
    }

    let sink: LoadedSink | undefined;
    if (isObject(record.sink) && typeof record.sink.type === 'string') {
      const { type, ...rest } = record.sink;
      const result = await validateConnector(getConnector, 'sink', type, rest, [...base, 'sink'], ['type']);
      pipelineIssues.push(...result.issues);
      if (result.connector && result.issues.length === 0) {
        sink = { type, connector: result.connector as SinkConnector, options: result.options };
      }
    }

    const transforms: (Transform | undefined)[] = [];
    const rawTransforms = Array.isArray(record.transforms) ? record.transforms : [];
    for (const [transformIndex, rawTransform] of rawTransforms.entries()) {
      if (!isObject(rawTransform) || typeof rawTransform.module !== 'string') continue;
      const exportName = typeof rawTransform.export === 'string' ? rawTransform.export : 'default';
      try {
        transforms.push(await loadTransform({ module: rawTransform.module, export: exportName }, directory));
      } catch (error) {
        const problem = toTidemarkError(error);
        const field = problem.message.includes("export '") ? 'export' : 'module';
        const at = field === 'export' && rawTransform.export === undefined ? 'module' : field;
        pipelineIssues.push({ path: [...base, 'transforms', transformIndex, at], message: withFix(problem) });
        transforms.push(undefined);
      }
    }

    const pipelineParse = pipelineSchema.safeParse(rawPipeline);
    const config = pipelineParse.success ? pipelineParse.data : undefined;
    if (config && sources.every(Boolean) && sources.length === rawSources.length) {
      pipelineIssues.push(...semanticIssues(config, sources as LoadedSource[], sink, base));
      pipelineIssues.push(...stagesIssues(config, sources as LoadedSource[], sink, base));
    }
    issues.push(...pipelineIssues);
    loaded.push(
      config && sink && pipelineIssues.length === 0 && transforms.every(Boolean)
        ? { config, sources: sources as LoadedSource[], sink, transforms: transforms as Transform[] }
        : undefined,
    );
  }

  if (issues.length > 0) {
    // A value left empty by a missing variable fails its schema too: report only the variable.
    const unset = new Set(
      issues
        .filter((issue) => issue.message.startsWith('environment variable '))
        .map((issue) => formatPath(issue.path)),
    );
    const relevant = issues.filter(
      (issue) => issue.message.startsWith('environment variable ') || !unset.has(formatPath(issue.path)),
    );
    return fail(dedupe(relevant).map(place));
  }
  return { file, pipelines: loaded as LoadedPipeline[], locate: (path, message) => place({ path, message }) };
}

async function validateConnector(
  getConnector: (kind: ConnectorKind, type: string) => Promise<AnyConnector>,
  kind: ConnectorKind,
  type: string,
  rawOptions: Record<string, unknown>,
  path: ConfigPath,
  reserved: readonly string[],
): Promise<{ issues: PathIssue[]; connector?: AnyConnector; options?: unknown }> {
  let connector: AnyConnector;
  try {
    connector = await getConnector(kind, type);
  } catch (error) {
    return { issues: [{ path: [...path, 'type'], message: withFix(toTidemarkError(error)) }] };
  }
  const schema = connector.configSchema as z.ZodType;
  const result = schema.safeParse(rawOptions);
  const issues: PathIssue[] = [];
  if (!result.success) issues.push(...describeConfigIssues(result.error, schema, rawOptions, path, reserved));
  const allowed = allowedKeysAt(schema, []);
  if (allowed && rejectsUnknownKeys(schema)) {
    for (const key of Object.keys(rawOptions)) {
      if (
        !allowed.includes(key) &&
        !issues.some((issue) => issue.path[issue.path.length - 1] === key && issue.atKey)
      ) {
        issues.push({
          path: [...path, key],
          atKey: true,
          message: `unknown option '${key}' for ${kind} type '${type}'; allowed: ${[...reserved, ...allowed].join(', ')}`,
        });
      }
    }
  }
  return result.success && issues.length === 0
    ? { issues, connector, options: result.data }
    : { issues, connector };
}

/** Cross-field checks; those about the sink run only when the sink loaded and validated. */
function semanticIssues(
  config: PipelineConfig,
  sources: LoadedSource[],
  sink: LoadedSink | undefined,
  base: ConfigPath,
): PathIssue[] {
  const issues: PathIssue[] = [];
  if (config.guarantee === 'exactly-once') {
    for (const [index, source] of sources.entries()) {
      if (!source.connector.capabilities.exactlyOnce) {
        issues.push({
          path: [...base, 'sources', index, 'type'],
          message: `${source.connector.packageName} (type '${source.type}') cannot deliver exactly once (replay: ${source.connector.capabilities.replay}); set \`guarantee: at-least-once\` on the pipeline to accept duplicates after failures`,
        });
      }
    }
    if (sink && !sink.connector.capabilities.transactional) {
      issues.push({
        path: [...base, 'sink', 'type'],
        message: `${sink.connector.packageName} is not transactional, so exactly-once is impossible; set \`guarantee: at-least-once\` to accept duplicates`,
      });
    }
  }
  if (sink && config.poison === 'dead-letter') {
    const options = (sink.options ?? {}) as Record<string, unknown>;
    if (!sink.connector.capabilities.deadLetter) {
      issues.push({
        path: [...base, 'poison'],
        message: `poison: dead-letter needs a sink with a dead-letter output, and ${sink.connector.packageName} has none; allowed here: 'fail', 'skip'`,
      });
    } else if (
      // Only sinks whose dead-letter output is an option (the Kafka sink's topic) need it set.
      'deadLetterTopic' in ((sink.connector.configSchema as { shape?: object }).shape ?? {}) &&
      (options.deadLetterTopic === undefined ||
        options.deadLetterTopic === null ||
        options.deadLetterTopic === '')
    ) {
      issues.push({
        path: [...base, 'poison'],
        message: 'poison: dead-letter needs the sink option deadLetterTopic (the topic poison records go to)',
      });
    }
  }
  if (config.rowtime?.from === 'provenance' && config.rowtime.column !== undefined) {
    for (const source of sources) {
      const columns = source.connector.provenance.map((column) => column.name);
      if (!columns.includes(config.rowtime.column)) {
        issues.push({
          path: [...base, 'rowtime', 'column'],
          message: `source '${source.name}' (type '${source.type}') has no provenance column '${config.rowtime.column}'; its columns: ${columns.join(', ')}`,
        });
      }
    }
  }
  return issues;
}

function withFix(error: TidemarkError): string {
  return error.fix ? `${error.message} — ${error.fix}` : error.message;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function dedupe(issues: PathIssue[]): PathIssue[] {
  const seen = new Set<string>();
  return issues.filter((issue) => {
    const key = `${formatPath(issue.path)}\u0000${issue.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
