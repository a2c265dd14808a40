// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${NAME}` is the configuration's interpolation syntax, written on purpose.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '@tidemark/core';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfigFile } from './load.js';

const plugins = fileURLToPath(new URL('../../../../test/fixtures/bad-configs/plugins/', import.meta.url));
const directories: string[] = [];

function configFile(lines: string[]): string {
  const directory = mkdtempSync(join(tmpdir(), 'tidemark-load-'));
  directories.push(directory);
  const file = join(directory, 'pipeline.yaml');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

const source = ['    sources:', '      - name: events', `        type: ${plugins}at-most-once-source.js`];

afterEach(() => {
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

describe('loadConfigFile', () => {
  it('loads local plugins by path, applies defaults and converts durations', async () => {
    const file = configFile([
      'pipelines:',
      '  - name: p1',
      '    guarantee: at-least-once',
      ...source,
      '    sink:',
      `      type: ${plugins}memory-sink.js`,
      '      topic: ${TOPIC:-fallback}',
      '    commit:',
      '      interval: 250ms',
      '      rowtimeSpan: 1m',
    ]);
    const config = await loadConfigFile(file, { environment: {} });
    const [pipeline] = config.pipelines;
    expect(pipeline?.config.commit).toMatchObject({ interval: 250, rowtimeSpan: 60_000, maxRecords: 50_000 });
    expect(pipeline?.config.retry).toEqual({
      maxConsecutiveFailures: 10,
      initialBackoff: 200,
      maxBackoff: 30_000,
    });
    expect(pipeline?.sink.options).toEqual({ topic: 'fallback' });
    expect(pipeline?.sources[0]?.connector.packageName).toBe('fixture-at-most-once');
  });

  it('reports every problem at once, each placed in the file', async () => {
    const file = configFile([
      'pipelines:',
      '  - name: p1',
      ...source,
      '    sink:',
      `      type: ${plugins}memory-sink.js`,
      '      topik: out',
      '    poison: dead-letter',
      '  - name: p1',
      '    sources: []',
      '    sink: { type: ./nowhere }',
    ]);
    const error = await loadConfigFile(file, { environment: {}, displayName: 'pipeline.yaml' }).catch(
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(ConfigError);
    const lines = (error as ConfigError).issues.map(
      (issue) => `${issue.line}:${issue.column} ${issue.path}: ${issue.message}`,
    );
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^5:15 pipelines\[0\]\.sources\[0\]\.type: .*cannot deliver exactly once/),
        `8:7 pipelines[0].sink.topik: unknown option 'topik' for sink type '${plugins}memory-sink.js'; allowed: type, topic, deadLetterTopic, password`,
        '7:7 pipelines[0].sink.topic: required option missing: expected string',
        "10:11 pipelines[1].name: duplicate pipeline name 'p1' (also pipelines[0])",
        '11:14 pipelines[1].sources: a pipeline needs at least one source (got a list)',
        expect.stringMatching(/^12:19 pipelines\[1\]\.sink\.type: sink plugin '\.\/nowhere' not found/),
      ]),
    );
    console.log(lines);
    expect(lines).toHaveLength(6);
    expect((error as ConfigError).issues.every((issue) => issue.file === 'pipeline.yaml')).toBe(true);
  });
});
