import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { BackOffError, type Source, silentLogger, TidemarkError, type TidemarkRecord } from '@tidemark/sdk';
import { describeSourceConformance, runPipelineToCompletion } from '@tidemark/sdk/testing';
import { afterEach, describe, expect, it } from 'vitest';
import httpLogSource from './index.js';
import { type LogServer, startLogServer } from './log-server.js';

const decoder = new TextDecoder();
const idOf = (record: TidemarkRecord) => (JSON.parse(decoder.decode(record.value!)) as { id: string }).id;

let server: LogServer | undefined;

describeSourceConformance({
  connector: httpLogSource,
  setup: async () => {
    server = await startLogServer({ maxPageSize: 5 });
  },
  cleanup: async () => {
    await server?.close();
    server = undefined;
  },
  config: () => ({ url: server!.url, pollIntervalMs: 20, pageSize: 3 }),
  produce: async (count) => server!.appendGenerated(count),
  idOf,
  badConfig: { url: 'ftp://example.com/log', pageSize: 0, colour: 'blue' },
  quietMs: 150,
});

function createSource(url: string, extra: Record<string, unknown> = {}): Source {
  const config = httpLogSource.configSchema.parse({ url, pollIntervalMs: 20, ...extra });
  return httpLogSource.create(config, {
    name: 'test',
    logger: silentLogger,
    signal: new AbortController().signal,
  });
}

const readOnce = (source: Source, maxWaitMs = 50) =>
  source.read({ signal: new AbortController().signal, maxRecords: 100, maxBytes: 1 << 20, maxWaitMs });

describe('http-log source', () => {
  const opened: Source[] = [];
  afterEach(async () => {
    for (const source of opened.splice(0)) await source.close();
    await server?.close();
    server = undefined;
  });

  it('turns 429 with Retry-After into a BackOffError of that many seconds', async () => {
    server = await startLogServer();
    server.appendGenerated(2);
    const source = createSource(server.url);
    opened.push(source);
    await source.open(null);
    server.failNext(1, 429, { 'retry-after': '2' });
    const error = await readOnce(source).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(BackOffError);
    expect((error as BackOffError).backoffMs).toBe(2000);
    expect((await readOnce(source)).records.map(idOf)).toEqual(['item-0', 'item-1']);
  });

  it('reports 5xx and an unreachable server as retriable CONNECTION_FAILED, 404 as a config error', async () => {
    server = await startLogServer();
    const source = createSource(server.url);
    opened.push(source);
    await source.open(null);
    server.failNext(1, 500);
    await expect(readOnce(source)).rejects.toMatchObject({ code: 'CONNECTION_FAILED', retriable: true });
    const wrongPath = createSource(server.url.replace('/log', '/nope'));
    opened.push(wrongPath);
    await expect(wrongPath.open(null)).rejects.toMatchObject({ code: 'CONFIG_INVALID', retriable: false });
    const url = server.url;
    await server.close();
    server = undefined;
    const unreachable = createSource(url);
    opened.push(unreachable);
    const error = await unreachable.open(null).catch((thrown: unknown) => thrown);
    expect(TidemarkError.hasCode(error, 'CONNECTION_FAILED')).toBe(true);
  });

  it('marks items without the id field as poison, keeping their position', async () => {
    server = await startLogServer();
    server.append([{ key: 'a' }, { note: 'no key' }, { key: 'c' }]);
    const source = createSource(server.url, { idField: 'key' });
    opened.push(source);
    await source.open(null);
    const { records } = await readOnce(source);
    expect(records.map((record) => record.poison !== undefined)).toEqual([false, true, false]);
    expect(records[1]!.position).toEqual({ unit: server.url, next: { after: '', skip: 2 } });
    expect(records[2]!.position).toEqual({ unit: server.url, next: { after: '3', skip: 0 } });
  });

  it('runs in the pipeline and skips poison items under the skip policy', async () => {
    server = await startLogServer();
    server.append([{ key: 'a' }, { note: 'no key' }, { key: 'c' }]);
    const { records } = await runPipelineToCompletion({
      sources: [createSource(server.url, { idField: 'key' })],
      poison: 'skip',
      until: (sink) => sink.committedState.watermarks.test !== undefined && sink.committedRecords.length >= 2,
    });
    expect(records.map((record) => decoder.decode(record.key!))).toEqual(['a', 'c']);
  });
});

describe('demo server process', () => {
  it('starts, prints its urls, appends and serves the log, and stops on SIGTERM', async () => {
    const script = fileURLToPath(new URL('./demo-server.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', script, '--port', '0'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const [chunk] = (await once(child.stdout, 'data')) as [Buffer];
      const { url, appendUrl } = JSON.parse(chunk.toString('utf8').split('\n')[0]!) as {
        url: string;
        appendUrl: string;
      };
      const appended = await fetch(appendUrl, {
        method: 'POST',
        body: JSON.stringify({ items: [{ id: 'x' }, { id: 'y' }] }),
      });
      expect(await appended.json()).toEqual({ ids: ['x', 'y'], next: '2' });
      const page = (await (await fetch(`${url}?after=1&limit=10`)).json()) as {
        items: { id: string }[];
        next: string;
      };
      expect(page.items.map((item) => item.id)).toEqual(['y']);
      expect(page.next).toBe('2');
    } finally {
      child.kill('SIGTERM');
    }
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
  });
});
