import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brokers, requireBuiltCli, tidemark, uniqueName } from './helpers.js';

describe('tidemark watermarks show, for a pipeline of several tasks', () => {
  let directory: string;
  let config: string;
  const pipeline = uniqueName('show-tasks');
  const files = ['a.log', 'b.log', 'c.log', 'd.log', 'e.log', 'f.log'];

  beforeAll(() => {
    requireBuiltCli();
    directory = mkdtempSync(join(tmpdir(), 'tidemark-show-tasks-'));
    const data = join(directory, 'data');
    mkdirSync(data);
    for (const file of files) writeFileSync(join(data, file), 'one\ntwo\nthree\n');
    config = join(directory, 'pipeline.yaml');
    const sink = `{ type: kafka, brokers: [${brokers.map((broker) => `'${broker}'`).join(', ')}], topic: ${uniqueName('show-tasks')} }`;
    const source = `{ name: logs, type: file, directory: '${data}', pattern: '*.log', watch: false }`;
    writeFileSync(
      config,
      `pipelines:\n  - { name: ${pipeline}, tasks: 2, group: { enabled: false }, sources: [${source}], sink: ${sink} }\n`,
    );
  });

  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  it('prints one entry per task, whose watermarks together count every file once', async () => {
    const run = await tidemark(['run', config, '--until-idle', '--no-lease']);
    expect(run.code, run.stderr).toBe(0);

    const shown = await tidemark(['watermarks', 'show', config, '--json']);
    expect(shown.code, shown.stderr).toBe(0);
    const entries = JSON.parse(shown.stdout) as {
      task: string;
      watermarks: { logs?: { finished?: { count: number } } };
    }[];
    expect(entries.map((entry) => entry.task)).toEqual(['task-0', 'task-1']);
    // The file source keeps finished files as a counted set: each task finished its share.
    const finished = entries.map((entry) => entry.watermarks.logs?.finished?.count ?? 0);
    expect(finished.every((count) => count > 0)).toBe(true);
    expect(finished.reduce((sum, count) => sum + count, 0)).toBe(files.length);

    const text = await tidemark(['watermarks', 'show', config]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(`pipeline ${pipeline} task-0 (of 2 tasks)`);
    expect(text.stdout).toContain(`pipeline ${pipeline} task-1 (of 2 tasks)`);
  });
});
