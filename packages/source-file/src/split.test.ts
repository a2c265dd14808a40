import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TidemarkRecord } from '@tidemark/sdk';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fileSourceConfigSchema } from './config.js';
import { createFileSource, type FileSource } from './file-source.js';
import { fileSource } from './index.js';

let directory: string;
const sources: FileSource[] = [];

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'tidemark-file-split-'));
});

afterEach(async () => {
  for (const source of sources.splice(0)) await source.close();
  rmSync(directory, { recursive: true, force: true });
});

async function readAll(source: FileSource): Promise<string[]> {
  await source.open(null);
  const lines: string[] = [];
  for (;;) {
    const batch = await source.read({
      signal: new AbortController().signal,
      maxRecords: 1_000,
      maxBytes: 1 << 20,
      maxWaitMs: 50,
    });
    lines.push(
      ...batch.records.map((record: TidemarkRecord) => Buffer.from(record.value ?? []).toString('utf8')),
    );
    if (batch.end) return lines;
  }
}

describe('file source split into tasks', () => {
  it('gives every file to exactly one of the tasks', async () => {
    for (let file = 0; file < 12; file += 1)
      writeFileSync(join(directory, `f${file}.log`), `f${file}-a\nf${file}-b\n`);
    const configs = fileSource.split!(fileSourceConfigSchema.parse({ directory, watch: false }), 3).map(
      (config) => config!,
    );
    expect(configs.map((config) => config.task)).toEqual([
      { index: 0, count: 3 },
      { index: 1, count: 3 },
      { index: 2, count: 3 },
    ]);
    const perTask: string[][] = [];
    for (const config of configs) {
      const source = createFileSource(config, 'files');
      sources.push(source);
      perTask.push(await readAll(source));
    }
    const all = perTask.flat().sort();
    expect(all).toHaveLength(24);
    expect(new Set(all).size).toBe(24);
    // Both lines of a file are read by the same task.
    for (const lines of perTask) {
      for (const line of lines) expect(lines).toContain(line.replace(/-[ab]$/, '-b'));
    }
    expect(perTask.filter((lines) => lines.length > 0).length).toBeGreaterThan(1);
  });
});
