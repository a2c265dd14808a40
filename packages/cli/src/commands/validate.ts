import { ConfigError, type ConfigIssue, toTidemarkError } from '@tidemark/core';
import { type LoadedConfig, loadConfigFile } from '../config/load.js';
import { formatIssue } from '../report.js';
import { checkTopic, kafkaConnectionOf, withAdmin } from '../runtime/kafka.js';

export interface ValidateResult {
  readonly ok: boolean;
  readonly output: string;
}

/**
 * Checks that what a loaded configuration points at exists: every Kafka connection (any source
 * or sink with a `brokers` option) answers within `timeoutMs`, and the sink's `topic` and
 * `deadLetterTopic` exist, or the sink (`autoCreateTopics: true`) or the broker creates them.
 */
export async function connectionIssues(config: LoadedConfig, timeoutMs: number): Promise<ConfigIssue[]> {
  const issues: ConfigIssue[] = [];
  for (const [index, pipeline] of config.pipelines.entries()) {
    const targets = [
      ...pipeline.sources.map((source, sourceIndex) => ({
        path: ['pipelines', index, 'sources', sourceIndex] as (string | number)[],
        options: source.options,
        topics: [] as string[],
      })),
      {
        path: ['pipelines', index, 'sink'] as (string | number)[],
        options: pipeline.sink.options,
        topics: ['topic', 'deadLetterTopic']
          .map((key) => (pipeline.sink.options as Record<string, unknown>)[key])
          .filter((topic): topic is string => typeof topic === 'string' && topic !== ''),
      },
    ];
    for (const target of targets) {
      const connection = kafkaConnectionOf(target.options);
      if (!connection) continue;
      try {
        await withAdmin(connection, timeoutMs, async (admin) => {
          for (const topic of target.topics) {
            const { exists, autoCreate } = await checkTopic(admin, topic);
            const sinkCreates = (target.options as Record<string, unknown>).autoCreateTopics === true;
            if (!exists && autoCreate !== true && !sinkCreates) {
              const key =
                topic === (target.options as Record<string, unknown>).topic ? 'topic' : 'deadLetterTopic';
              issues.push(
                config.locate(
                  [...target.path, key],
                  `topic '${topic}' does not exist and the broker ${autoCreate === false ? 'does not auto-create topics' : 'may not auto-create it'}; create it first (kafka-topics.sh --create --topic ${topic})`,
                ),
              );
            }
          }
        });
      } catch (error) {
        const problem = toTidemarkError(error);
        issues.push(config.locate([...target.path, 'brokers'], `${problem.code}: ${problem.message}`));
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
