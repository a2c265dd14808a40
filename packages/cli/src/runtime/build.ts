import {
  type ConnectorContext,
  type Logger,
  Pipeline,
  type PipelineObserver,
  type Source,
  stagesSpecOf,
  type TransactionalSink,
} from '@tidemark/core';
import { redactSecrets } from '@tidemark/sdk';
import type { z } from 'zod';
import type { LoadedPipeline, LoadedSource } from '../config/load.js';

export interface BuildOptions {
  readonly logger: Logger;
  /** Aborted on shutdown; handed to connectors. */
  readonly signal: AbortSignal;
  readonly observer?: PipelineObserver;
  /** Stop once every source ended (bounded sources, `--until-idle`). */
  readonly stopWhenSourcesEnd: boolean;
  /** One task of a split pipeline: its identity suffix and its slice of the sources. */
  readonly task?: { readonly taskId?: string; readonly sources: readonly LoadedSource[] };
}

function context(name: string, logger: Logger, signal: AbortSignal): ConnectorContext {
  return { name, logger: logger.child({ connector: name }), signal };
}

/** Creates the (unopened) sink of a loaded pipeline. */
export function createSink(loaded: LoadedPipeline, logger: Logger, signal: AbortSignal): TransactionalSink {
  return loaded.sink.connector.create(loaded.sink.options as never, context('sink', logger, signal));
}

/** Creates the (unopened) sources of a loaded pipeline, undecorated. */
export function createSources(
  loaded: Pick<LoadedPipeline, 'sources'>,
  logger: Logger,
  signal: AbortSignal,
): Source[] {
  return loaded.sources.map((source) =>
    source.connector.create(source.options as never, context(source.name, logger, signal)),
  );
}

/** The pipeline's effective configuration with secrets redacted: what `run` logs at start. */
export function effectiveConfiguration(loaded: LoadedPipeline): Record<string, unknown> {
  return {
    ...loaded.config,
    sources: loaded.sources.map((source) => ({
      name: source.name,
      type: source.type,
      package: `${source.connector.packageName}@${source.connector.version}`,
      ...(redactSecrets(source.options, source.connector.configSchema as z.ZodType) as object),
    })),
    sink: {
      type: loaded.sink.type,
      package: `${loaded.sink.connector.packageName}@${loaded.sink.connector.version}`,
      ...(redactSecrets(loaded.sink.options, loaded.sink.connector.configSchema as z.ZodType) as object),
    },
  };
}

/** Assembles the runtime Pipeline for a loaded configuration: sources, rowtime, transforms, policies. */
export function buildPipeline(loaded: LoadedPipeline, options: BuildOptions): Pipeline {
  const { config } = loaded;
  const logger = options.logger.child({ pipeline: config.name });
  return new Pipeline({
    id: config.name,
    sources: createSources(options.task ?? loaded, logger, options.signal),
    ...(options.task?.taskId === undefined ? {} : { taskId: options.task.taskId }),
    sink: createSink(loaded, logger, options.signal),
    transform: loaded.transforms,
    ...(config.rowtime ? { rowtime: config.rowtime } : {}),
    ...(config.tsort || config.window ? { stages: stagesSpecOf(config) } : {}),
    commit: {
      maxRecords: config.commit.maxRecords,
      maxBytes: config.commit.maxBytes,
      maxWallMs: config.commit.interval,
      rowtimeSpanMs: config.commit.rowtimeSpan ?? null,
      idleRecommitMs: config.commit.idleRecommit,
    },
    retry: {
      maxConsecutiveFailures: config.retry.maxConsecutiveFailures,
      initialBackoffMs: config.retry.initialBackoff,
      maxBackoffMs: config.retry.maxBackoff,
    },
    batch: {
      maxRecords: config.batch.maxRecords,
      maxBytes: config.batch.maxBytes,
      maxWaitMs: config.batch.maxWait,
    },
    poison: config.poison,
    stopWhenSourcesEnd: options.stopWhenSourcesEnd,
    logger: options.logger,
    ...(options.observer ? { observer: options.observer } : {}),
  });
}
