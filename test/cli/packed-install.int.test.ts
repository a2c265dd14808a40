// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${NAME}` is the configuration's interpolation syntax, written on purpose.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  brokers,
  createTopics,
  idCounts,
  readCommitted,
  repositoryRoot,
  requireBuiltCli,
  start,
  uniqueName,
} from './helpers.js';

const PACKAGES = ['core', 'sdk', 'kafka', 'cli', 'source-file', 'sink-kafka'];

describe('packed install: the published tarballs work outside the workspace', () => {
  let root: string;
  let app: string;
  // Node 24 first on PATH, for npm and for the `#!/usr/bin/env node` of the installed binary.
  const environment = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` };
  const topic = uniqueName('cli-packed');

  beforeAll(async () => {
    requireBuiltCli();
    await createTopics(topic);
    root = mkdtempSync(join(tmpdir(), 'tidemark-packed-'));
    const tarballs = join(root, 'tarballs');
    app = join(root, 'app');
    mkdirSync(tarballs);
    mkdirSync(join(app, 'data'), { recursive: true });
    for (const name of PACKAGES) {
      execFileSync('npm', ['pack', '-w', `packages/${name}`, '--pack-destination', tarballs, '--silent'], {
        cwd: repositoryRoot,
        env: environment,
        stdio: 'pipe',
      });
    }
    writeFileSync(
      join(app, 'package.json'),
      JSON.stringify({ name: 'tidemark-packed-test', private: true, type: 'module' }),
    );
    const files = readdirSync(tarballs).map((file) => join(tarballs, file));
    expect(files).toHaveLength(PACKAGES.length);
    execFileSync(
      'npm',
      ['install', ...files, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'],
      {
        cwd: app,
        env: environment,
        stdio: 'pipe',
        timeout: 240_000,
      },
    );
  }, 300_000);

  afterAll(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('runs a file → Kafka configuration with the installed tidemark binary', async () => {
    const lines = Array.from({ length: 50 }, (_, id) => JSON.stringify({ id, text: `line ${id}` }));
    writeFileSync(join(app, 'data', 'input.jsonl'), `${lines.join('\n')}\n`);
    writeFileSync(
      join(app, 'tidemark.yaml'),
      [
        'pipelines:',
        `  - name: ${uniqueName('packed')}`,
        '    sources:',
        '      - name: input',
        '        type: file',
        '        directory: ${TIDEMARK_CONFIG_DIR}/data',
        '        format: jsonl',
        '        watch: false',
        '    sink:',
        '      type: kafka',
        `      brokers: [${brokers.map((broker) => `'${broker}'`).join(', ')}]`,
        `      topic: ${topic}`,
        '',
      ].join('\n'),
    );
    const binary = join(app, 'node_modules', '.bin', 'tidemark');
    const plugins = await start(['plugins'], { command: binary, cwd: app, env: environment }).finished;
    expect(plugins.code, plugins.stderr).toBe(0);
    expect(plugins.stdout).toContain('source file  @tidemark/source-file@0.1.0');
    expect(plugins.stdout).toContain('sink kafka  @tidemark/sink-kafka@0.1.0');

    const run = await start(['run', 'tidemark.yaml', '--until-idle'], {
      command: binary,
      cwd: app,
      env: environment,
    }).finished;
    expect(run.code, run.stderr).toBe(0);
    const counts = idCounts(await readCommitted(topic, (messages) => messages.length >= 50));
    expect(counts.size).toBe(50);
    expect([...counts.values()].every((count) => count === 1)).toBe(true);
  });
});
