import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { repositoryRoot, requireBuiltCli, STACK_LINE, tidemark } from './helpers.js';

const directory = 'test/fixtures/bad-configs';

interface Case {
  readonly file: string;
  readonly command: string[];
  readonly expects: string[];
  readonly at: string | undefined;
}

/**
 * Each fixture states its command (`# command:`), expected messages and position in its header.
 * Fixtures that are not even YAML end in `.yaml.txt`, so the repository's formatter skips them.
 */
function cases(): Case[] {
  return readdirSync(join(repositoryRoot, directory))
    .filter((name) => name.endsWith('.yaml') || name.endsWith('.yaml.txt'))
    .sort()
    .map((name) => {
      const text = readFileSync(join(repositoryRoot, directory, name), 'utf8');
      const header = (key: string) =>
        [...text.matchAll(new RegExp(`^# ${key}: (.*)$`, 'gm'))].map((match) => match[1]!.trim());
      const file = `${directory}/${name}`;
      const command = (header('command')[0] ?? 'validate').split(' ');
      return { file, command, expects: header('expect'), at: header('expect-at')[0] };
    });
}

describe('tidemark on malformed configurations', () => {
  beforeAll(requireBuiltCli);
  const all = cases();

  it('has at least 15 fixtures, each stating what it expects', () => {
    expect(all.length).toBeGreaterThanOrEqual(15);
    for (const item of all) expect(item.expects.length, item.file).toBeGreaterThan(0);
  });

  it.each(all.map((item) => [item.file, item] as const))('%s', async (_name, item) => {
    const [verb, ...rest] = item.command;
    const args =
      verb === 'watermarks' ? [verb, rest[0]!, item.file, ...rest.slice(1)] : [verb!, ...rest, item.file];
    const result = await tidemark(args);
    const output = result.stdout + result.stderr;
    expect(result.code, output).toBe(1);
    for (const expected of item.expects) expect(output).toContain(expected);
    if (item.at) {
      const [position, path] = item.at.split(' ');
      expect(output).toContain(`${item.file}:${position}${position!.endsWith(':') ? '' : ' '}`);
      if (path) expect(output).toContain(`${item.file}:${position} ${path}: `);
    }
    expect(output).not.toMatch(STACK_LINE);
  });

  it('reports every problem of several files in one run, and exits 1', async () => {
    const files = ['missing-required.yaml', 'bad-poison-policy.yaml', 'unknown-type.yaml'].map(
      (name) => `${directory}/${name}`,
    );
    const result = await tidemark(['validate', ...files]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('missing-required.yaml: 2 configuration problems');
    expect(result.stderr).toContain('bad-poison-policy.yaml:12:13');
    expect(result.stderr).toContain("unknown source type 'nosuch'");
  });

  it('shows the stack only with --verbose', async () => {
    const quiet = await tidemark(['run', 'examples/quickstart.yaml', '--pipeline', 'no-such-pipeline']);
    expect(quiet.code).toBe(1);
    expect(quiet.stderr).toContain("no pipeline named 'no-such-pipeline'");
    expect(quiet.stderr).toContain('fix: Use one of: quickstart.');
    expect(quiet.stderr).not.toMatch(STACK_LINE);
    const verbose = await tidemark([
      '--verbose',
      'run',
      'examples/quickstart.yaml',
      '--pipeline',
      'no-such-pipeline',
    ]);
    expect(verbose.code).toBe(1);
    expect(verbose.stderr).toMatch(STACK_LINE);
  });
});
