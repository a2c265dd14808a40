import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brokers, requireBuiltCli, STACK_LINE, tidemark, uniqueName } from './helpers.js';

describe('tidemark watermarks reset --to <JSON>', () => {
  let directory: string;
  let config: string;
  const pipeline = uniqueName('reset-shape');

  beforeAll(() => {
    requireBuiltCli();
    directory = mkdtempSync(join(tmpdir(), 'tidemark-reset-shape-'));
    mkdirSync(join(directory, 'data'));
    config = join(directory, 'pipeline.yaml');
    const sink = `{ type: kafka, brokers: [${brokers.map((broker) => `'${broker}'`).join(', ')}], topic: ${uniqueName('reset-shape')} }`;
    const source = `{ name: orders, type: file, directory: '${join(directory, 'data')}', watch: false }`;
    writeFileSync(config, `pipelines:\n  - { name: ${pipeline}, sources: [${source}], sink: ${sink} }\n`);
  });

  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  it('checks the shape of the watermark against the source at reset time, committing nothing', async () => {
    const to = JSON.stringify({ orders: { 'lane/0': 5 } });
    const refused = await tidemark(['watermarks', 'reset', config, '--pipeline', pipeline, '--to', to]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("the watermark for source 'orders' is not one it accepts");
    expect(refused.stderr).toContain('watermarks show --json');
    expect(refused.stderr).not.toMatch(STACK_LINE);
    const shown = await tidemark(['watermarks', 'show', config, '--json']);
    expect(shown.code, shown.stderr).toBe(0);
    expect(JSON.parse(shown.stdout)[0]).toMatchObject({ watermarks: {}, rowtime: null });
  });
});
