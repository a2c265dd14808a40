import {
  appendFileSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  truncateSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  advanceWatermark,
  mergeWatermarks,
  SOURCE_SPECIFICATION_VERSION,
  type SourceBatch,
  type TidemarkRecord,
  type Watermark,
} from '@tidemark/sdk';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FileSourceConfigInput } from './config.js';
import { createFileSource, type FileSource } from './file-source.js';
import fileSourceDefault, { fileSource } from './index.js';

let directory: string;
const sources: FileSource[] = [];

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'tidemark-file-'));
});

afterEach(async () => {
  for (const source of sources.splice(0)) await source.close();
  rmSync(directory, { recursive: true, force: true });
});

function make(config: Partial<FileSourceConfigInput> = {}): FileSource {
  const source = createFileSource({ directory, pollIntervalMs: 25, ...config }, 'files');
  sources.push(source);
  return source;
}

const text = (record: TidemarkRecord) => Buffer.from(record.value ?? new Uint8Array()).toString('utf8');

/** Folds a batch into a watermark the way the runtime does. */
function fold(watermark: Watermark, batch: SourceBatch): Watermark {
  return mergeWatermarks(
    advanceWatermark(
      watermark,
      batch.records.map((record) => record.position),
    ),
    batch.advance,
  );
}

interface Drained {
  records: TidemarkRecord[];
  watermark: Watermark;
  ended: boolean;
}

/** Reads until the source ends, `count` records arrived, or `timeoutMs` passes. */
async function drain(
  source: FileSource,
  options: { watermark?: Watermark; count?: number; timeoutMs?: number; maxRecords?: number } = {},
): Promise<Drained> {
  const records: TidemarkRecord[] = [];
  let watermark = options.watermark ?? {};
  const deadline = Date.now() + (options.timeoutMs ?? 5_000);
  while (Date.now() < deadline) {
    const batch = await source.read({
      signal: new AbortController().signal,
      maxRecords: options.maxRecords ?? 1_000,
      maxBytes: 1 << 20,
      maxWaitMs: 50,
    });
    records.push(...batch.records);
    watermark = fold(watermark, batch);
    if (batch.end) return { records, watermark, ended: true };
    if (options.count !== undefined && records.length >= options.count) break;
  }
  return { records, watermark, ended: false };
}

describe('connector declaration', () => {
  it('declares a seek-replay, exactly-once file source with its provenance columns', () => {
    expect(fileSourceDefault).toBe(fileSource);
    expect(fileSource).toMatchObject({
      kind: 'source',
      type: 'file',
      specificationVersion: SOURCE_SPECIFICATION_VERSION,
      capabilities: { replay: 'seek', exactlyOnce: true, bounded: false },
    });
    expect(fileSource.provenance.map((column) => [column.name, column.type])).toEqual([
      ['file.path', 'string'],
      ['file.position', 'integer'],
      ['file.line', 'integer'],
    ]);
    expect(make({ watch: false }).capabilities.bounded).toBe(true);
    expect(make({ watch: true }).capabilities.bounded).toBe(false);
  });

  it('rejects key/rowtimeField on plain lines and a missing directory', async () => {
    expect(() => createFileSource({ directory, key: 'id' }, 'x')).toThrow(/key needs format/);
    const missing = createFileSource({ directory: join(directory, 'nope') }, 'x');
    await expect(missing.open(null)).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });
});

describe('batch mode', () => {
  it('reads every file once in name order with exact provenance, then ends', async () => {
    writeFileSync(join(directory, 'b.log'), 'b1\nb2\n');
    writeFileSync(join(directory, 'a.log'), 'a1\n\na3\n');
    writeFileSync(join(directory, 'c.txt'), 'ignored\n');
    writeFileSync(join(directory, 'empty.log'), '');
    const source = make({ watch: false, pattern: '*.log' });
    await source.open(null);
    const { records, ended, watermark } = await drain(source);
    expect(ended).toBe(true);
    expect(records.map(text)).toEqual(['a1', '', 'a3', 'b1', 'b2']);
    expect(records.map((record) => record.provenance)).toEqual([
      { 'file.path': join(directory, 'a.log'), 'file.position': 3, 'file.line': 1 },
      { 'file.path': join(directory, 'a.log'), 'file.position': 4, 'file.line': 2 },
      { 'file.path': join(directory, 'a.log'), 'file.position': 7, 'file.line': 3 },
      { 'file.path': join(directory, 'b.log'), 'file.position': 3, 'file.line': 1 },
      { 'file.path': join(directory, 'b.log'), 'file.position': 6, 'file.line': 2 },
    ]);
    expect(watermark['lane/0']).toBeNull();
    expect((watermark.finished as { count: number }).count).toBe(3);
    const again = await drain(source);
    expect(again).toMatchObject({ records: [], ended: true });
  });

  it('takes files in modification-time order when order is mtime', async () => {
    const names = ['z', 'm', 'a'];
    names.forEach((name, index) => {
      writeFileSync(join(directory, name), `${name}\n`);
      utimesSync(join(directory, name), 1_000 + index, 1_000 + index);
    });
    const source = make({ watch: false, order: 'mtime' });
    await source.open(null);
    expect((await drain(source)).records.map(text)).toEqual(['z', 'm', 'a']);
  });

  it('emits a last line without a newline when the file is finished', async () => {
    writeFileSync(join(directory, 'a'), 'one\ntwo');
    const source = make({ watch: false });
    await source.open(null);
    const { records } = await drain(source);
    expect(records.map(text)).toEqual(['one', 'two']);
    expect(records[1]!.provenance['file.position']).toBe(7);
  });

  it('resumes exactly after every possible cut point, by open and by seek', async () => {
    const content = 'first\n\nthird line\r\nfourth\nfifth\n';
    writeFileSync(join(directory, 'a.log'), content);
    writeFileSync(join(directory, 'b.log'), 'b-one\nb-two\n');
    const full = make({ watch: false });
    await full.open(null);
    const reference: string[] = [];
    const cuts: Watermark[] = [{}];
    let watermark: Watermark = {};
    while (true) {
      const batch = await full.read({
        signal: new AbortController().signal,
        maxRecords: 1,
        maxBytes: 1 << 20,
        maxWaitMs: 0,
      });
      for (const record of batch.records) reference.push(`${record.provenance['file.path']}:${text(record)}`);
      watermark = fold(watermark, batch);
      cuts.push(watermark);
      if (batch.end) break;
    }
    expect(reference).toHaveLength(7);
    const resumed = make({ watch: false });
    for (const cut of cuts) {
      const json = JSON.parse(JSON.stringify(cut)) as Watermark;
      const fresh = make({ watch: false });
      await fresh.open(json);
      const rest = await drain(fresh);
      await fresh.close();
      const already = reference.length - rest.records.length;
      expect(rest.records.map((record) => `${record.provenance['file.path']}:${text(record)}`)).toEqual(
        reference.slice(already),
      );
      if (cut === cuts[0]) continue;
      await (cuts.indexOf(cut) === 1 ? resumed.open(json) : resumed.seek(json));
      const afterSeek = await drain(resumed);
      expect(afterSeek.records.map(text)).toEqual(rest.records.map(text));
    }
  });

  it('keeps the watermark compact with 2,000 finished files and forgets deleted ones', async () => {
    for (let index = 0; index < 2_000; index += 1) {
      writeFileSync(join(directory, `f${String(index).padStart(5, '0')}.log`), `line ${index}\n`);
    }
    const source = make({ watch: false });
    await source.open(null);
    const { records, watermark } = await drain(source, { timeoutMs: 60_000 });
    expect(records).toHaveLength(2_000);
    const size = JSON.stringify(watermark).length;
    expect(size).toBeLessThan(23_000);
    expect((watermark.finished as { count: number }).count).toBe(2_000);

    const restarted = make({ watch: false });
    await restarted.open(JSON.parse(JSON.stringify(watermark)) as Watermark);
    expect(await drain(restarted)).toMatchObject({ records: [], ended: true });

    for (const name of readdirSync(directory).slice(0, 1_500)) unlinkSync(join(directory, name));
    writeFileSync(join(directory, 'new.log'), 'fresh\n');
    const pruned = make({ watch: false });
    await pruned.open(watermark);
    const after = await drain(pruned);
    expect(after.records.map(text)).toEqual(['fresh']);
    expect((after.watermark.finished as { count: number }).count).toBe(501);
    expect(JSON.stringify(after.watermark).length).toBeLessThan(6_000);
  }, 60_000);

  it('turns bad JSON and over-long lines into poison records that still advance', async () => {
    writeFileSync(
      join(directory, 'a.jsonl'),
      `{"id":"k1","at":"2024-01-02T03:04:05Z"}\nnot json\n\n{"id":7,"at":1700000000000}\n{"id":"long","pad":"${'x'.repeat(100)}"}\n{"id":"k3"}\n`,
    );
    const source = make({ watch: false, format: 'jsonl', key: 'id', rowtimeField: 'at', maxLineBytes: 64 });
    await source.open(null);
    const { records } = await drain(source);
    expect(records.map((record) => record.poison ?? 'ok')).toEqual([
      'ok',
      expect.stringMatching(/^invalid JSON/),
      'ok',
      expect.stringMatching(/exceeds maxLineBytes/),
      expect.stringMatching(/rowtimeField 'at'/),
    ]);
    expect(records[0]!.rowtime).toBe(Date.parse('2024-01-02T03:04:05Z'));
    expect(Buffer.from(records[0]!.key!).toString()).toBe('k1');
    expect(records[2]!.rowtime).toBe(1_700_000_000_000);
    expect(Buffer.from(records[2]!.key!).toString()).toBe('7');
    expect(records[3]!.value).toHaveLength(64);
    expect(records.map((record) => record.provenance['file.line'])).toEqual([1, 2, 4, 5, 6]);
  });

  it('reads CSV rows as JSON objects keyed by the header, also when resuming past the header', async () => {
    writeFileSync(
      join(directory, 'a.csv'),
      '\uFEFFid,name,note\r\n1,Ann,"likes, commas"\n2,Bob,"says ""hi"""\n3,short\n',
    );
    const source = make({ watch: false, format: 'csv', key: 'id' });
    await source.open(null);
    const first = await source.read({
      signal: new AbortController().signal,
      maxRecords: 1,
      maxBytes: 1 << 20,
      maxWaitMs: 0,
    });
    expect(JSON.parse(text(first.records[0]!))).toEqual({ id: '1', name: 'Ann', note: 'likes, commas' });
    expect(first.records[0]!.provenance['file.line']).toBe(2);
    const resumed = make({ watch: false, format: 'csv', key: 'id' });
    await resumed.open(fold({}, first));
    const { records } = await drain(resumed);
    expect(JSON.parse(text(records[0]!))).toEqual({ id: '2', name: 'Bob', note: 'says "hi"' });
    expect(Buffer.from(records[0]!.key!).toString()).toBe('2');
    expect(records[1]!.poison).toMatch(/2 fields, the header 3/);
  });

  it('keeps a CSV record whose quoted field holds newlines whole, and resumes at record boundaries', async () => {
    const content = 'id,name,note\n4,"Great product\nwould buy, again",5\n5,"two\r\nbreaks\n",6\n6,plain,7\n';
    writeFileSync(join(directory, 'a.csv'), content);
    const source = make({ watch: false, format: 'csv' });
    await source.open(null);
    const { records } = await drain(source);
    expect(records.map((record) => record.poison ?? JSON.parse(text(record)))).toEqual([
      { id: '4', name: 'Great product\nwould buy, again', note: '5' },
      { id: '5', name: 'two\r\nbreaks\n', note: '6' },
      { id: '6', name: 'plain', note: '7' },
    ]);
    expect(records.map((record) => record.provenance['file.line'])).toEqual([2, 4, 7]);
    const boundaries = records.map((record) => record.provenance['file.position']);
    expect(boundaries).toEqual([content.indexOf('5,"two'), content.indexOf('6,plain'), content.length]);
    const first = await source.read({
      signal: new AbortController().signal,
      maxRecords: 1,
      maxBytes: 1 << 20,
      maxWaitMs: 0,
    });
    expect(first.records).toEqual([]);
    const resumed = make({ watch: false, format: 'csv' });
    await resumed.open(fold({}, { records: records.slice(0, 1), end: false }));
    const rest = await drain(resumed);
    expect(rest.records.map((record) => JSON.parse(text(record)).id)).toEqual(['5', '6']);
    expect(rest.records.map((record) => record.provenance['file.line'])).toEqual([4, 7]);
  });
});

describe('rotation while stopped', () => {
  it('warns naming a file rotated out of the pattern twice while stopped', async () => {
    const warnings: { fields: Record<string, unknown>; message: string }[] = [];
    const logger = {
      child: () => logger,
      debug: () => {},
      info: () => {},
      error: () => {},
      warn: (fields: Record<string, unknown>, message: string) => warnings.push({ fields, message }),
    };
    writeFileSync(join(directory, 'app.log'), 'x1\nx2\n');
    const first = createFileSource({ directory, pattern: 'app.log', watch: false }, 'files');
    sources.push(first);
    await first.open(null);
    const batch = await first.read({
      signal: new AbortController().signal,
      maxRecords: 1,
      maxBytes: 1 << 20,
      maxWaitMs: 0,
    });
    await first.close();
    renameSync(join(directory, 'app.log'), join(directory, 'app.log.1'));
    writeFileSync(join(directory, 'app.log'), 'y1\n');
    renameSync(join(directory, 'app.log.1'), join(directory, 'app.log.2'));
    renameSync(join(directory, 'app.log'), join(directory, 'app.log.1'));
    writeFileSync(join(directory, 'app.log'), 'z1\n');
    const second = createFileSource({ directory, pattern: 'app.log', watch: false }, 'files', {
      logger: logger as never,
    });
    sources.push(second);
    await second.open(fold({}, batch));
    const { records } = await drain(second);
    expect(records.map(text)).toEqual(['x2', 'z1']);
    const warning = warnings.find((entry) => entry.message.includes('rotated out of the pattern'));
    expect(warning?.message).toContain(join(directory, 'app.log.1'));
    expect(warning?.message).toContain("widen pattern to the rotated names (e.g. 'app.log*')");
  });
});

describe('tail mode', () => {
  it('holds a partial last line until its newline arrives, and tails appends', async () => {
    const path = join(directory, 'app.log');
    writeFileSync(path, 'one\ntw');
    const source = make();
    await source.open(null);
    const first = await drain(source, { count: 2, timeoutMs: 400 });
    expect(first.records.map(text)).toEqual(['one']);
    appendFileSync(path, 'o\nthree\n');
    const second = await drain(source, { count: 2 });
    expect(second.records.map(text)).toEqual(['two', 'three']);
    expect(second.records.map((record) => record.provenance['file.position'])).toEqual([8, 14]);
    writeFileSync(join(directory, 'later.log'), 'new file\n');
    expect((await drain(source, { count: 1 })).records.map(text)).toEqual(['new file']);
  });

  it('drains a file renamed away and reads the new file of the same name, without loss or repeat', async () => {
    const path = join(directory, 'app.log');
    writeFileSync(path, 'a1\na2\n');
    const source = make({ pattern: '*.log' });
    await source.open(null);
    let { records, watermark } = await drain(source, { count: 2 });
    renameSync(path, join(directory, 'app.log.1'));
    appendFileSync(join(directory, 'app.log.1'), 'a3\n');
    writeFileSync(path, 'b1\n');
    const rest = await drain(source, { count: 2, watermark });
    records = [...records, ...rest.records];
    watermark = rest.watermark;
    expect(records.map(text).sort()).toEqual(['a1', 'a2', 'a3', 'b1']);
    // The renamed file is finished once drained: its lane is freed, only the new app.log stays.
    await new Promise((resolve) => setTimeout(resolve, 150));
    const settled = await drain(source, { watermark, timeoutMs: 300 });
    expect(settled.records).toEqual([]);
    const lanes = Object.entries(settled.watermark).filter(
      ([unit, state]) => unit.startsWith('lane/') && state !== null,
    );
    expect(lanes.map(([, state]) => (state as { path: string }).path)).toEqual([path]);
  });

  it('recognises a rotated file by identity after a restart and resumes it exactly', async () => {
    const path = join(directory, 'app.log');
    writeFileSync(path, 'a1\na2\na3\n');
    const first = make({ pattern: '*.log' });
    await first.open(null);
    const head = await drain(first, { count: 2, maxRecords: 2 });
    expect(head.records.map(text)).toEqual(['a1', 'a2']);
    await first.close();
    renameSync(path, join(directory, 'app.log.1'));
    writeFileSync(path, 'b1\n');
    const second = make({ pattern: '*.log' });
    await second.open(JSON.parse(JSON.stringify(head.watermark)) as Watermark);
    const rest = await drain(second, { count: 2 });
    expect(rest.records.map(text).sort()).toEqual(['a3', 'b1']);
    const a3 = rest.records.find((record) => text(record) === 'a3')!;
    expect(a3.provenance['file.line']).toBe(3);
  });

  it('starts over at 0 after copytruncate', async () => {
    const path = join(directory, 'app.log');
    writeFileSync(path, 'old-1\nold-2\n');
    const source = make();
    await source.open(null);
    const before = await drain(source, { count: 2 });
    truncateSync(path, 0);
    appendFileSync(path, 'new\n');
    const after = await drain(source, { count: 1, watermark: before.watermark });
    expect(after.records.map(text)).toEqual(['new']);
    expect(after.records[0]!.provenance).toMatchObject({ 'file.position': 4, 'file.line': 1 });
    expect(after.watermark['lane/0']).toMatchObject({ generation: 1, offset: 4 });
  });

  it('notices a truncation rewritten past the read position while running (first bytes changed)', async () => {
    const path = join(directory, 'app.log');
    writeFileSync(path, 'old1\nold2\n');
    const source = make();
    await source.open(null);
    const before = await drain(source, { count: 2 });
    // Truncated and rewritten beyond byte 10 before the source looks again.
    writeFileSync(path, 'new-line-1\nnew-line-2\nnew3\n');
    const after = await drain(source, { count: 3, watermark: before.watermark });
    expect(after.records.map(text)).toEqual(['new-line-1', 'new-line-2', 'new3']);
    expect(after.watermark['lane/0']).toMatchObject({ generation: 1 });
  });

  it('tailing: notices a truncation rewritten past the read position when a directory scan saw the file first', async () => {
    const path = join(directory, 'app.log');
    writeFileSync(path, 'a1\na2\n');
    const source = make({ watch: true });
    await source.open(null);
    const before = await drain(source, { count: 2 });
    // Truncated, then rewritten beyond byte 6 with a line boundary there: a scan (the rescan
    // is due every 25 ms) lists the file with its new modification time before it is read.
    truncateSync(path, 0);
    appendFileSync(path, 'b1\nb2\nb3\n');
    await new Promise((resolve) => setTimeout(resolve, 60));
    const after = await drain(source, { count: 3, watermark: before.watermark, timeoutMs: 1_000 });
    expect(after.records.map(text)).toEqual(['b1', 'b2', 'b3']);
    expect(after.watermark['lane/0']).toMatchObject({ generation: 1 });
  });

  it('treats a new file at a deleted file’s name as new, while running and after a restart', async () => {
    const path = join(directory, 'app.log');
    writeFileSync(path, 'old-1\nold-2\nold-3\n');
    const source = make();
    await source.open(null);
    const before = await drain(source, { count: 3 });
    unlinkSync(path);
    writeFileSync(path, 'new-1\n');
    const running = await drain(source, { count: 1, watermark: before.watermark });
    expect(running.records.map(text)).toEqual(['new-1']);
    expect(running.records[0]!.provenance['file.line']).toBe(1);
    await source.close();

    unlinkSync(path);
    writeFileSync(path, 'newer-1\nnewer-2\n');
    const restarted = make();
    await restarted.open(running.watermark);
    const rest = await drain(restarted, { count: 2 });
    expect(rest.records.map(text)).toEqual(['newer-1', 'newer-2']);
  });

  it('with start latest reads only what is appended after the first open', async () => {
    const path = join(directory, 'app.log');
    writeFileSync(path, 'before-1\nbefore-2\npart');
    const source = make({ start: 'latest' });
    await source.open(null);
    appendFileSync(path, 'ial\nafter\n');
    await source.seek(null);
    const { records } = await drain(source, { count: 2 });
    expect(records.map(text)).toEqual(['partial', 'after']);
    expect(records.map((record) => record.provenance['file.line'])).toEqual([3, 4]);
  });

  it('finishes an idle file followed by a later one when finishIdleMs is set', async () => {
    writeFileSync(join(directory, 'a.log'), 'a1\nlast-without-newline');
    utimesSync(join(directory, 'a.log'), 1_000, 1_000);
    writeFileSync(join(directory, 'b.log'), 'b1\n');
    const source = make({ finishIdleMs: 60_000 });
    await source.open(null);
    const { records, watermark } = await drain(source, { count: 3 });
    expect(records.map(text)).toEqual(['a1', 'last-without-newline', 'b1']);
    expect((watermark.finished as { count: number }).count).toBe(1);
    appendFileSync(join(directory, 'a.log'), '\nignored\n');
    expect((await drain(source, { timeoutMs: 200 })).records).toEqual([]);
  });

  it('returns promptly when the read is aborted', async () => {
    writeFileSync(join(directory, 'idle.log'), '');
    const source = make({ pollIntervalMs: 5_000 });
    await source.open(null);
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 50);
    const batch = await source.read({
      signal: controller.signal,
      maxRecords: 10,
      maxBytes: 1 << 20,
      maxWaitMs: 10_000,
    });
    expect(batch.records).toEqual([]);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('releases every file descriptor on close', async () => {
    const count = () => readdirSync('/proc/self/fd').length;
    for (let index = 0; index < 20; index += 1)
      writeFileSync(join(directory, `f${index}.log`), `line ${index}\n`);
    const before = count();
    const source = make();
    await source.open(null);
    await drain(source, { count: 20 });
    expect(count()).toBeGreaterThanOrEqual(before + 20);
    await source.close();
    await source.close();
    expect(count()).toBe(before);
  });
});
