import type { Server } from 'node:http';
import {
  type Logger,
  type Pipeline,
  type PipelineObserver,
  type PipelineStatus,
  type RunLease,
  type RunLeaseHook,
  TidemarkError,
  toTidemarkError,
} from '@tidemark/core';
import pino from 'pino';
import { type LoadedConfig, type LoadedPipeline, loadConfigFile } from '../config/load.js';
import { describeFailure } from '../report.js';
import { type BuildOptions, buildPipeline, effectiveConfiguration } from './build.js';
import { runsAsTasks, TaskCluster } from './cluster.js';
import { startMonitoringServer } from './http.js';
import { PipelineMetrics } from './metrics.js';
import { registerStageMetrics } from './stage-metrics.js';
import { formatStatusLine, StatusBoard } from './status-board.js';
import { registerTaskMetrics } from './task-metrics.js';

export interface RunOptions {
  readonly file: string;
  /** Pipelines to run (default: all in the file). */
  readonly pipelines?: readonly string[];
  readonly metricsPort?: number;
  readonly metricsHost: string;
  readonly shutdownTimeoutMs: number;
  /** Exit once every source of every pipeline has ended (bounded sources). */
  readonly untilIdle: boolean;
  readonly verbose: boolean;
  /** Hold the run lease of each pipeline, where its sink keeps one (default true). */
  readonly lease: boolean;
  readonly stdout: NodeJS.WriteStream;
  readonly stderr: NodeJS.WriteStream;
  readonly environment: NodeJS.ProcessEnv;
}

/** Picks the pipelines named in `names` (all when empty); CONFIG_INVALID for an unknown name. */
export function selectPipelines(
  config: LoadedConfig,
  names: readonly string[] | undefined,
): LoadedPipeline[] {
  if (!names || names.length === 0) return [...config.pipelines];
  const known = config.pipelines.map((pipeline) => pipeline.config.name);
  return names.map((name) => {
    const found = config.pipelines.find((pipeline) => pipeline.config.name === name);
    if (!found) {
      throw new TidemarkError('CONFIG_INVALID', `no pipeline named '${name}' in ${config.file}`, {
        fix: `Use one of: ${known.join(', ')}.`,
      });
    }
    return found;
  });
}

function createLogger(options: RunOptions, board: StatusBoard | undefined): pino.Logger {
  const level = (
    options.environment.LOG_LEVEL || (options.verbose ? 'debug' : board ? 'warn' : 'info')
  ).toLowerCase();
  const settings: pino.LoggerOptions = {
    level,
    base: { pid: process.pid },
    formatters: { level: (label, number) => ({ level: number, severity: label }) },
  };
  return board
    ? pino(settings, board.destination())
    : pino(settings, pino.destination({ fd: 1, sync: true }));
}

/**
 * `tidemark run`: loads the file, starts every selected pipeline in this process, serves
 * metrics, shows status, and stops gracefully on SIGINT/SIGTERM (a second signal exits at
 * once). Resolves to the exit code: 0 after a clean stop or when bounded sources ended with
 * `untilIdle`; 1 when a pipeline failed with a non-retriable error or shutdown timed out.
 */
export async function runCommand(options: RunOptions): Promise<number> {
  const config = await loadConfigFile(options.file, { environment: options.environment });
  const selected = selectPipelines(config, options.pipelines);
  const board = options.stderr.isTTY ? new StatusBoard(options.stderr) : undefined;
  const logger = createLogger(options, board);
  const metrics = new PipelineMetrics();
  const shutdown = new AbortController();
  /** Latest lag per pipeline (sum over its sources) and per pipeline+source. */
  const lags = new Map<string, number>();
  const sourceLags = new Map<string, number>();
  /** Latest progress per pipeline, by source. */
  const progress = new Map<string, Map<string, { done: number; total?: number }>>();
  const extrasOf = (pipeline: string) => ({ lag: lags.get(pipeline), progress: progress.get(pipeline) });

  const clusters: TaskCluster[] = [];
  const pipelines: Array<Pick<Pipeline, 'id' | 'run' | 'stop' | 'status'>> = selected.map((loaded) => {
    const name = loaded.config.name;
    logger.info({ pipeline: name, config: effectiveConfiguration(loaded) }, 'effective configuration');
    const observer = metrics.observer(name, {
      onLag: ({ source, lag }) => {
        sourceLags.set(`${name}\u0000${source}`, lag);
        let total = 0;
        for (const [key, value] of sourceLags) if (key.startsWith(`${name}\u0000`)) total += value;
        lags.set(name, total);
      },
      onProgress: ({ source, ...figures }) => {
        const bySource = progress.get(name) ?? new Map();
        progress.set(name, bySource.set(source, figures));
      },
    });
    const build = (task?: BuildOptions['task'], taskObserver?: PipelineObserver) =>
      buildPipeline(loaded, {
        logger: logger as unknown as Logger,
        signal: shutdown.signal,
        ...(task ? { task } : {}),
        observer: taskObserver ?? observer,
        stopWhenSourcesEnd: options.untilIdle,
      });
    if (!runsAsTasks(loaded)) return build();
    const cluster = new TaskCluster({
      loaded,
      logger: logger as unknown as Logger,
      signal: shutdown.signal,
      build,
      observer,
      untilIdle: options.untilIdle,
    });
    clusters.push(cluster);
    return cluster;
  });
  registerTaskMetrics(metrics.registry, clusters);
  registerStageMetrics(metrics.registry, pipelines);

  // Bound before any lease is taken: a port that cannot be bound fails the run with no lease to release.
  let server: Server | undefined;
  if (options.metricsPort !== undefined) {
    server = await startMonitoringServer({
      port: options.metricsPort,
      host: options.metricsHost,
      registry: metrics.registry,
      statuses: () => pipelines.map((pipeline) => pipeline.status()),
    });
    logger.info({ port: options.metricsPort, host: options.metricsHost }, 'serving /metrics and /health');
  }

  const leases: RunLease[] = [];
  if (options.lease) {
    for (const loaded of selected) {
      const pipeline = loaded.config.name;
      const hook = loaded.sink.connector.lease as RunLeaseHook<unknown> | undefined;
      if (!hook) {
        logger.info({ pipeline }, 'the sink keeps no run lease; watermarks reset cannot see this run');
        continue;
      }
      const lease = hook.create(loaded.sink.options, pipeline, {
        name: 'sink',
        logger: logger.child({ pipeline }) as unknown as Logger,
        signal: shutdown.signal,
      });
      leases.push(lease);
      lease
        .acquire(15_000)
        .then((held) =>
          logger.info({ pipeline, held }, held ? 'liveness lease held' : 'liveness lease not yet held'),
        )
        .catch((error: unknown) =>
          logger.warn({ pipeline, err: toTidemarkError(error).message }, 'liveness lease failed'),
        );
    }
  }

  let statusTimer: NodeJS.Timeout | undefined;
  if (board) {
    const previous = new Map<string, { at: number; recordsIn: number }>();
    const draw = () => {
      const now = Date.now();
      board.render(
        pipelines.map((pipeline) => {
          const status: PipelineStatus = pipeline.status();
          const before = previous.get(status.id);
          const rate =
            before && now > before.at
              ? ((status.recordsIn - before.recordsIn) * 1000) / (now - before.at)
              : 0;
          previous.set(status.id, { at: now, recordsIn: status.recordsIn });
          return formatStatusLine(status, rate, now, extrasOf(status.id));
        }),
      );
    };
    statusTimer = setInterval(draw, 1_000);
    draw();
  }

  let exitCode = 0;
  let stopping = false;
  let shutdownTimer: NodeJS.Timeout | undefined;
  const stopAll = (reason: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason }, 'stopping pipelines');
    for (const pipeline of pipelines) pipeline.stop();
    shutdown.abort();
    shutdownTimer = setTimeout(() => {
      const message = `shutdown did not finish within ${options.shutdownTimeoutMs / 1000} s; exiting. Uncommitted work is aborted by the sink's transaction timeout or fenced at the next start.`;
      board?.print(`error: ${message}`);
      if (!board) options.stderr.write(`error: ${message}\n`);
      logger.error({ timeoutMs: options.shutdownTimeoutMs }, 'shutdown timed out');
      process.exit(1);
    }, options.shutdownTimeoutMs);
    shutdownTimer.unref();
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      options.stderr.write(`received ${signal} again; exiting now\n`);
      process.exit(130);
    }
    stopAll(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    await Promise.all(
      pipelines.map(async (pipeline) => {
        try {
          const result = await pipeline.run();
          logger.info(
            { pipeline: pipeline.id, reason: result.reason, status: result.status },
            'pipeline stopped',
          );
        } catch (thrown) {
          exitCode = 1;
          const error = toTidemarkError(thrown);
          logger.error(
            { pipeline: pipeline.id, code: error.code, err: error.message, fix: error.fix },
            'pipeline failed',
          );
          const text = describeFailure(
            new TidemarkError(error.code, withPipelineName(pipeline.id, error.message), {
              ...(error.fix ? { fix: error.fix } : {}),
              cause: error,
            }),
            options.verbose,
          );
          if (board) board.print(text);
          else options.stderr.write(`${text}\n`);
          stopAll(`pipeline ${pipeline.id} failed`);
        }
      }),
    );
  } finally {
    if (statusTimer) clearInterval(statusTimer);
    if (board) {
      const now = Date.now();
      board.render(
        pipelines.map((pipeline) => formatStatusLine(pipeline.status(), 0, now, extrasOf(pipeline.id))),
      );
    }
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await Promise.all(leases.map((lease) => lease.release()));
    if (server) await new Promise((resolve) => server.close(resolve));
    if (shutdownTimer) clearTimeout(shutdownTimer);
    logger.flush?.();
  }
  return exitCode;
}

/** `message` prefixed `pipeline <id>: `, unless it already names the pipeline (no repeated name). */
export function withPipelineName(pipelineId: string, message: string): string {
  const named = new RegExp(`pipeline '?${pipelineId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}'?(?![\\w.-])`);
  return named.test(message) ? message : `pipeline ${pipelineId}: ${message}`;
}
