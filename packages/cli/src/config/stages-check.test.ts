import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@tidemark/core';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfigFile } from './load.js';

const directories: string[] = [];

function configFile(lines: string[]): string {
  const directory = mkdtempSync(join(tmpdir(), 'tidemark-stages-'));
  directories.push(directory);
  const file = join(directory, 'pipeline.yaml');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

afterEach(() => {
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

const kafkaSource = [
  '      - name: orders',
  '        type: kafka',
  '        brokers: ["127.0.0.1:9092"]',
  '        topics: [orders]',
];
const kafkaSink = ['    sink:', '      type: kafka', '      brokers: ["127.0.0.1:9092"]', '      topic: out'];
const window = [
  '    window:',
  '      range: 1h',
  '      partitionBy: product_id',
  '      aggregates:',
  '        total: sum(price * quantity)',
];

async function problems(file: string): Promise<string[]> {
  try {
    await loadConfigFile(file, { environment: {} });
  } catch (error) {
    if (error instanceof ConfigError) return error.issues.map((issue) => `${issue.path}: ${issue.message}`);
    throw error;
  }
  return [];
}

describe('tsort and window sections', () => {
  it('load into the stages spec of a Kafka pipeline', async () => {
    const file = configFile([
      'pipelines:',
      '  - name: orders',
      '    sources:',
      ...kafkaSource,
      '    tsort:',
      '      within: 2s',
      ...window,
      ...kafkaSink,
    ]);
    const [pipeline] = (await loadConfigFile(file, { environment: {} })).pipelines;
    expect(pipeline?.config.tsort).toEqual({ within: 2_000, late: 'drop', maxHeld: 100_000 });
    expect(pipeline?.config.window).toMatchObject({ range: 3_600_000, partitionBy: ['product_id'] });
  });

  it('reject a window over a source that cannot seek by time, start: latest, a field rowtime and late dead letters without a topic', async () => {
    const file = configFile([
      'pipelines:',
      '  - name: orders',
      '    sources:',
      '      - name: files',
      '        type: file',
      '        directory: /tmp',
      ...kafkaSource,
      '        start: latest',
      '    rowtime:',
      '      from: field',
      '      field: at',
      '    tsort:',
      '      within: 2s',
      '      late: dead-letter',
      ...window,
      ...kafkaSink,
    ]);
    const found = await problems(file);
    expect(found).toHaveLength(4);
    expect(found[0]).toMatch(
      /^pipelines\[0\]\.sources\[0\]\.type: source 'files' \(type 'file'\) cannot seek by time/,
    );
    expect(found[1]).toMatch(/^pipelines\[0\]\.sources\[1\]\.start: .*cannot start a source at 'latest'/);
    expect(found[2]).toMatch(
      /^pipelines\[0\]\.rowtime\.from: a window needs the rowtime its sources seek by/,
    );
    expect(found[3]).toMatch(/^pipelines\[0\]\.tsort\.late: late: dead-letter needs .*deadLetterTopic/);
  });

  it('reject a window without aggregates and with both range and tumble', async () => {
    const file = configFile([
      'pipelines:',
      '  - name: orders',
      '    sources:',
      ...kafkaSource,
      '    window:',
      '      range: 1h',
      '      tumble: 1m',
      '      aggregates: {}',
      ...kafkaSink,
    ]);
    const found = (await problems(file)).join('\n');
    expect(found).toContain('set exactly one of range (sliding) or tumble');
    expect(found).toContain('needs at least one aggregate');
  });
});
