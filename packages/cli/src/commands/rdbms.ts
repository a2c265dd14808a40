import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TidemarkError } from '@tidemark/sdk';
import type { Command } from 'commander';
import { loadConfigFile } from '../config/load.js';
import { resolvePackage } from '../connectors/resolve.js';

const RDBMS_PACKAGE = '@tidemark/source-rdbms';

/** What `@tidemark/source-rdbms` exports for this command. */
interface RdbmsModule {
  prepare(
    config: unknown,
    options: { dryRun?: boolean },
  ): Promise<{ dialect: string; table: string; statements: readonly string[]; applied: boolean }>;
}

export interface PrepareRdbmsOptions {
  readonly pipelines?: readonly string[];
  readonly dryRun: boolean;
  readonly environment?: NodeJS.ProcessEnv;
}

/**
 * `tidemark rdbms prepare <file>`: runs (or with dryRun prints) the SQL that prepares the table
 * of every `type: rdbms` source of the file for the in-flight horizon (see the package's
 * `prepare`). Errors: CONFIG_INVALID (no rdbms source, a query source), CONNECTOR_UNKNOWN (the
 * package is not installed), and the database's AUTH_FAILED, NOT_FOUND, CONNECTION_FAILED.
 */
export async function prepareRdbmsSources(file: string, options: PrepareRdbmsOptions): Promise<string> {
  const config = await loadConfigFile(file, options.environment ? { environment: options.environment } : {});
  const targets = config.pipelines
    .filter((pipeline) => !options.pipelines || options.pipelines.includes(pipeline.config.name))
    .flatMap((pipeline) =>
      pipeline.sources
        .filter((source) => source.connector.packageName === RDBMS_PACKAGE)
        .map((source) => ({ pipeline: pipeline.config.name, source })),
    );
  if (targets.length === 0) {
    throw new TidemarkError('CONFIG_INVALID', `${file}: no source of type rdbms to prepare`, {
      fix: 'Point the command at a configuration with a `type: rdbms` source (or fix --pipeline).',
    });
  }
  const entry = resolvePackage(RDBMS_PACKAGE, dirname(resolve(file)));
  if (!entry) {
    throw new TidemarkError('CONNECTOR_UNKNOWN', `${RDBMS_PACKAGE} is not installed`, {
      fix: `Install it with \`npm install ${RDBMS_PACKAGE}\`.`,
    });
  }
  const rdbms = (await import(pathToFileURL(entry).href)) as RdbmsModule;
  const lines: string[] = [];
  for (const { pipeline, source } of targets) {
    const result = await rdbms.prepare(source.options, { dryRun: options.dryRun });
    lines.push(
      `${result.applied ? 'prepared' : 'would run'}: pipeline ${pipeline}, source ${source.name} (${result.dialect} table ${result.table})`,
      ...result.statements.map((statement) => `  ${statement};`),
    );
  }
  return lines.join('\n');
}

/** Registers `tidemark rdbms prepare` on the program. */
export function registerRdbmsCommand(
  program: Command,
  write: (text: string) => void,
  environment: NodeJS.ProcessEnv,
): void {
  program
    .command('rdbms')
    .description('Helpers for rdbms sources.')
    .command('prepare')
    .description(
      'Add the queryCol column, trigger and index the in-flight horizon needs to the table of every rdbms source (idempotent).',
    )
    .argument('<file>', 'YAML configuration file')
    .option('-p, --pipeline <name>', 'only this pipeline (repeatable)', (value, previous: string[] = []) => [
      ...previous,
      value,
    ])
    .option('--dry-run', 'print the SQL without running it')
    .action(async (file: string, options: { pipeline?: string[]; dryRun?: boolean }) => {
      write(
        await prepareRdbmsSources(file, {
          ...(options.pipeline ? { pipelines: options.pipeline } : {}),
          dryRun: options.dryRun === true,
          environment,
        }),
      );
    });
}
