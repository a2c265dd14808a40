import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scaffoldSource, sourceNames } from './index.js';

const run = promisify(execFile);
const repositoryRoot = fileURLToPath(new URL('../../../../', import.meta.url));
// Inside the repository, so Node resolves @tidemark/sdk (its built dist), vitest and
// typescript from the workspace's node_modules, as an installed package would.
const temporaryRoot = join(repositoryRoot, '.tidemark', 'tmp');

describe('sourceNames', () => {
  it('derives package name, connector type and identifier', () => {
    expect(sourceNames('ticks', '^0.1.0')).toMatchObject({
      packageName: 'tidemark-source-ticks',
      type: 'ticks',
      identifier: 'ticks',
    });
    expect(sourceNames('@acme/tidemark-source-web-hooks', '^0.1.0')).toMatchObject({
      packageName: '@acme/tidemark-source-web-hooks',
      type: 'web-hooks',
      identifier: 'webHooks',
    });
  });

  it('rejects names that are not npm names or yield no valid type', () => {
    expect(() => sourceNames('Bad Name', '^0.1.0')).toThrow(/not a valid npm package name/);
    expect(() => sourceNames('@acme/source-9lives', '^0.1.0')).toThrow(/connector type '9lives'/);
  });
});

describe('scaffoldSource', () => {
  let workspace: string;

  beforeAll(async () => {
    await mkdir(temporaryRoot, { recursive: true });
    workspace = await mkdtemp(join(temporaryRoot, 'scaffold-'));
  });

  afterAll(async () => {
    await rm(workspace, { recursive: true, force: true });
  });

  it('refuses a non-empty directory and overwrites nothing', async () => {
    const directory = join(workspace, 'occupied');
    await mkdir(directory, { recursive: true });
    await writeFile(join(directory, 'keep.txt'), 'mine');
    await expect(scaffoldSource({ name: 'ticks', directory, sdkVersion: '^0.1.0' })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
    });
    expect(await readFile(join(directory, 'keep.txt'), 'utf8')).toBe('mine');
  });

  it('generates a package whose example source type-checks and passes the conformance kit', async () => {
    expect(
      existsSync(join(repositoryRoot, 'packages/sdk/dist/testing.js')),
      'build @tidemark/sdk first',
    ).toBe(true);
    const directory = join(workspace, 'ticks');
    const result = await scaffoldSource({
      name: '@acme/tidemark-source-ticks',
      directory,
      sdkVersion: '^0.1.0',
    });
    expect(result.type).toBe('ticks');
    expect([...result.files].sort()).toEqual(
      [
        '.gitignore',
        'README.md',
        'package.json',
        'src/index.test.ts',
        'src/index.ts',
        'tsconfig.json',
        'tsup.config.ts',
      ].sort(),
    );
    const manifest = JSON.parse(await readFile(join(directory, 'package.json'), 'utf8')) as {
      name: string;
      dependencies: Record<string, string>;
    };
    expect(manifest.name).toBe('@acme/tidemark-source-ticks');
    expect(manifest.dependencies).toEqual({ '@tidemark/sdk': '^0.1.0' });

    const bin = (name: string, path: string) => join(repositoryRoot, 'node_modules', name, path);
    await run(process.execPath, [bin('typescript', 'bin/tsc'), '--noEmit', '-p', 'tsconfig.json'], {
      cwd: directory,
    });
    const { stdout } = await run(
      process.execPath,
      [
        bin('vitest', 'vitest.mjs'),
        'run',
        '--root',
        directory,
        '--reporter',
        'json',
        '--outputFile',
        'report.json',
      ],
      { cwd: directory, env: { ...process.env, CI: '1', NO_COLOR: '1' } },
    );
    expect(stdout).toBeDefined();
    const report = JSON.parse(await readFile(join(directory, 'report.json'), 'utf8')) as {
      success: boolean;
      numPassedTests: number;
      numFailedTests: number;
      testResults: { assertionResults: { title: string; status: string }[] }[];
    };
    const titles = report.testResults.flatMap((file) =>
      file.assertionResults.map((test) => `${test.status}: ${test.title}`),
    );
    expect(report.numFailedTests, titles.join('\n')).toBe(0);
    expect(report.success).toBe(true);
    expect(report.numPassedTests).toBeGreaterThanOrEqual(15);
    expect(titles).toContain('passed: a bounded source reports end after its last record and stays ended');
  }, 180_000);
});
