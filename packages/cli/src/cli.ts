import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { listPlugins } from './commands/plugins.js';
import { registerRdbmsCommand } from './commands/rdbms.js';
import { buildFileJsonSchema } from './commands/schema.js';
import { registerTaskCommands } from './commands/tasks.js';
import { validateFiles } from './commands/validate.js';
import { resetWatermarks, showWatermarks } from './commands/watermarks.js';
import { parseDuration } from './config/duration.js';
import { debugRequested, describeFailure } from './report.js';
import { runCommand } from './runtime/run.js';
import { scaffoldSource, sourceNames } from './scaffold/index.js';

/** Streams and environment the CLI talks to (replaceable in tests). */
export interface CliIo {
  readonly stdout: NodeJS.WriteStream;
  readonly stderr: NodeJS.WriteStream;
  readonly environment: NodeJS.ProcessEnv;
}

function cliVersion(): string {
  try {
    const here = dirname(fileURLToPath(import.meta.url));
    const manifest = JSON.parse(readFileSync(resolve(here, '../package.json'), 'utf8')) as {
      version: string;
    };
    return manifest.version;
  } catch {
    return '0.0.0';
  }
}

function port(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0 || number > 65_535)
    throw new InvalidArgumentError('expected a port number 0-65535');
  return number;
}

function duration(value: string): number {
  const parsed = parseDuration(value) ?? (/^\d+$/.test(value) ? Number(value) * 1000 : undefined);
  if (parsed === undefined)
    throw new InvalidArgumentError("expected a duration like '30s', '500ms' or seconds");
  return parsed;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/**
 * Runs the `tidemark` command line and resolves to the process exit code. Never throws: errors
 * are printed as message + fix (stack only with --verbose or LOG_LEVEL=debug).
 */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  let exitCode = 0;
  const verbose = () =>
    program.opts<{ verbose?: boolean }>().verbose === true || debugRequested(io.environment);
  const write = (text: string) => {
    if (text !== '') io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  };

  const program = new Command()
    .name('tidemark')
    .description('Exactly-once pipelines from sources into transactional Kafka, run from YAML.')
    .version(cliVersion())
    .option('-v, --verbose', 'debug logs and stack traces on errors')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    });

  program
    .command('run')
    .description('Run the pipelines of a configuration file until stopped (SIGINT/SIGTERM).')
    .argument('<file>', 'YAML configuration file')
    .option('-p, --pipeline <name>', 'run only this pipeline (repeatable)', collect)
    .option('--metrics-port <port>', 'serve /metrics and /health on this port', port)
    .option('--metrics-host <host>', 'address the metrics server binds', '127.0.0.1')
    .option('--shutdown-timeout <duration>', 'how long a graceful stop may take', duration, 30_000)
    .option(
      '--until-idle',
      'exit once every source has ended (bounded sources, e.g. files with watch: false)',
    )
    .addOption(new Option('--exit-when-done', 'alias of --until-idle').hideHelp())
    .option('--no-lease', 'do not hold the run lease (watermarks reset cannot then see this run)')
    .action(
      async (
        file: string,
        options: {
          pipeline?: string[];
          metricsPort?: number;
          metricsHost: string;
          shutdownTimeout: number;
          untilIdle?: boolean;
          exitWhenDone?: boolean;
          lease: boolean;
        },
      ) => {
        exitCode = await runCommand({
          file,
          ...(options.pipeline ? { pipelines: options.pipeline } : {}),
          ...(options.metricsPort !== undefined ? { metricsPort: options.metricsPort } : {}),
          metricsHost: options.metricsHost,
          shutdownTimeoutMs: options.shutdownTimeout,
          untilIdle: options.untilIdle === true || options.exitWhenDone === true,
          verbose: verbose(),
          lease: options.lease,
          stdout: io.stdout,
          stderr: io.stderr,
          environment: io.environment,
        });
      },
    );

  program
    .command('validate')
    .description(
      'Check configuration files: schema, connectors, transforms, semantics. Lists every problem; exit 1 on any.',
    )
    .argument('<files...>', 'YAML configuration files')
    .option('--connect', 'also check that brokers answer and sink topics exist (or are auto-created)')
    .option('--timeout <duration>', 'per-connection timeout for --connect', duration, 5_000)
    .action(async (files: string[], options: { connect?: boolean; timeout: number }) => {
      const result = await validateFiles(files, {
        connect: options.connect === true,
        timeoutMs: options.timeout,
        environment: io.environment,
      });
      if (result.ok) write(result.output);
      else io.stderr.write(`${result.output}\n`);
      exitCode = result.ok ? 0 : 1;
    });

  program
    .command('schema')
    .description('Print the JSON Schema of a configuration file, built from every installed connector.')
    .option('--dir <directory>', 'find connectors from this directory', '.')
    .action(async (options: { dir: string }) => {
      write(JSON.stringify(await buildFileJsonSchema(resolve(options.dir)), null, 2));
    });

  program
    .command('plugins')
    .description('List installed connectors: versions, capabilities, provenance columns.')
    .option('--dir <directory>', 'find connectors from this directory', '.')
    .option('--json', 'machine-readable output')
    .action(async (options: { dir: string; json?: boolean }) => {
      write(await listPlugins(resolve(options.dir), options.json === true));
    });

  const watermarks = program
    .command('watermarks')
    .description('Show or deliberately reset committed watermarks.');
  watermarks
    .command('show')
    .description(
      'Committed watermark per source and last committed rowtime (watermark_offsets / watermark_timestamp).',
    )
    .argument('<file>', 'YAML configuration file')
    .option('-p, --pipeline <name>', 'only this pipeline (repeatable)', collect)
    .option('--json', 'machine-readable output')
    .action(async (file: string, options: { pipeline?: string[]; json?: boolean }) => {
      write(await showWatermarks(file, options.pipeline, options.json === true, io.environment));
    });
  watermarks
    .command('reset')
    .description(
      'Rewind (or advance) a stopped pipeline: commits new watermarks through the sink, transactionally.',
    )
    .argument('<file>', 'YAML configuration file')
    .requiredOption('-p, --pipeline <name>', 'the pipeline to reset')
    .requiredOption(
      '--to <target>',
      'earliest | latest | <ISO-8601 time> | <JSON watermark {"source":{"unit":position}}>',
    )
    .option('--force', 'skip the check that the pipeline is not running')
    .action(async (file: string, options: { pipeline: string; to: string; force?: boolean }) => {
      write(
        await resetWatermarks(file, options.pipeline, options.to, options.force === true, io.environment),
      );
    });

  program
    .command('new')
    .description('Scaffold a new connector package.')
    .command('source')
    .description('Scaffold a source connector package (from the SDK template).')
    .argument('<name>', 'connector type name, e.g. my-api')
    .option('--dir <directory>', 'where to create the package')
    .action(async (name: string, options: { dir?: string }) => {
      const sdkVersion = `^${cliVersion()}`;
      const { packageName } = sourceNames(name, sdkVersion);
      const directory = resolve(options.dir ?? packageName.replace(/^@[^/]+\//, ''));
      const result = await scaffoldSource({ name, directory, sdkVersion });
      write(
        [
          `created ${result.packageName} (source type '${result.type}') in ${result.directory}:`,
          ...result.files.map((file) => `  ${file}`),
          `next: cd ${result.directory} && npm install && npm test`,
        ].join('\n'),
      );
    });

  registerRdbmsCommand(program, write, io.environment);
  registerTaskCommands(program, write, io.environment);

  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (typeof code === 'string' && code.startsWith('commander.')) {
      const commanderExit = (error as { exitCode?: number }).exitCode ?? 1;
      return code === 'commander.helpDisplayed' || code === 'commander.version'
        ? 0
        : commanderExit === 0
          ? 0
          : 2;
    }
    io.stderr.write(`${describeFailure(error, verbose())}\n`);
    return 1;
  }
  return exitCode;
}
