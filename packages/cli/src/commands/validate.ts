import {
  ConfigError,
  type ConfigIssue,
  type ConnectorContext,
  silentLogger,
  toTidemarkError,
} from '@tidemark/core';
import { type LoadedConfig, loadConfigFile } from '../config/load.js';
import { formatIssue } from '../report.js';

export interface ValidateResult {
  readonly ok: boolean;
  readonly output: string;
}

/**
 * `--connect`: runs the preflight `check` of every source and sink connector that has one (the
 * Kafka connectors: the brokers answer within their connect timeout, the sink's topics exist or
 * will be created). A failure is reported at the option it names (`details.option`), else at
 * the connector. Connectors without a check are skipped.
 */
export async function connectionIssues(config: LoadedConfig, timeoutMs: number): Promise<ConfigIssue[]> {
  const issues: ConfigIssue[] = [];
  for (const [index, pipeline] of config.pipelines.entries()) {
    const targets = [
      ...pipeline.sources.map((source, sourceIndex) => ({
        path: ['pipelines', index, 'sources', sourceIndex] as (string | number)[],
        name: source.name,
        connector: source.connector as {
          check?: (config: unknown, context: ConnectorContext) => Promise<void>;
        },
        options: source.options,
      })),
      {
        path: ['pipelines', index, 'sink'] as (string | number)[],
        name: 'sink',
        connector: pipeline.sink.connector as {
          check?: (config: unknown, context: ConnectorContext) => Promise<void>;
        },
        options: pipeline.sink.options,
      },
    ];
    for (const target of targets) {
      if (!target.connector.check) continue;
      try {
        const signal = AbortSignal.timeout(timeoutMs);
        await target.connector.check(target.options, { name: target.name, logger: silentLogger, signal });
      } catch (error) {
        const problem = toTidemarkError(error);
        const option = problem.details?.option;
        const path = typeof option === 'string' ? [...target.path, option] : target.path;
        issues.push(
          config.locate(path, `${problem.code}: ${problem.message}${problem.fix ? `; ${problem.fix}` : ''}`),
        );
      }
    }
  }
  return issues;
}

/** `tidemark validate`: every problem of every file, at once. */
export async function validateFiles(
  files: readonly string[],
  options: { connect: boolean; timeoutMs: number; environment: NodeJS.ProcessEnv },
): Promise<ValidateResult> {
  const lines: string[] = [];
  let ok = true;
  for (const file of files) {
    try {
      const config = await loadConfigFile(file, { environment: options.environment });
      const issues = options.connect ? await connectionIssues(config, options.timeoutMs) : [];
      if (issues.length > 0) {
        ok = false;
        lines.push(`${file}: ${issues.length} problem${issues.length === 1 ? '' : 's'}`);
        for (const issue of issues) lines.push(`  ${formatIssue(issue)}`);
      } else {
        const names = config.pipelines.map((pipeline) => pipeline.config.name).join(', ');
        lines.push(
          `ok ${file} (${config.pipelines.length} pipeline${config.pipelines.length === 1 ? '' : 's'}: ${names})`,
        );
      }
    } catch (error) {
      ok = false;
      if (
        error instanceof ConfigError ||
        (toTidemarkError(error).code === 'CONFIG_INVALID' && 'issues' in (error as object))
      ) {
        const configError = error as ConfigError;
        lines.push(configError.message);
        for (const issue of configError.issues) lines.push(`  ${formatIssue(issue)}`);
      } else {
        const problem = toTidemarkError(error);
        lines.push(`${file}: ${problem.message}${problem.fix ? `\n  fix: ${problem.fix}` : ''}`);
      }
    }
  }
  return { ok, output: lines.join('\n') };
}
