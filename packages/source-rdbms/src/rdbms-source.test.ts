import { silentLogger } from '@tidemark/sdk';
import { describe, expect, it } from 'vitest';
import { rdbmsSourceConfigSchema, resolveConfig } from './config.js';
import type { Dialect, DialectConnection, DialectRow, PageRequest } from './dialect.js';
import type { RowPosition } from './position.js';
import { RdbmsSource } from './rdbms-source.js';

/** An in-memory table with integer queryCol values and a settable horizon. */
class FakeTable {
  rows: { q: number; k: number }[] = [];
  horizon = 0;
  pages: PageRequest[] = [];
  horizonCalls = 0;

  #after(row: { q: number; k: number }, after: RowPosition | null): boolean {
    if (after === null) return true;
    const q = Number(after.queryValue);
    if (after.tieBreak === null) return row.q >= q;
    return row.q > q || (row.q === q && row.k > Number(after.tieBreak));
  }

  #select(after: RowPosition | null, horizon: string | null) {
    return this.rows
      .filter((row) => this.#after(row, after) && (horizon === null || row.q < Number(horizon)))
      .sort((a, b) => a.q - b.q || a.k - b.k);
  }

  dialect(): Dialect {
    const connection: DialectConnection = {
      horizon: async () => {
        this.horizonCalls += 1;
        return String(this.horizon);
      },
      readPage: async (request) => {
        this.pages.push(request);
        return this.#select(request.after, request.horizon)
          .slice(0, request.limit)
          .map(
            (row): DialectRow => ({
              queryValue: String(row.q),
              tieBreakValue: String(row.k),
              json: JSON.stringify({ id: row.k }),
            }),
          );
      },
      count: async (after, horizon) => this.#select(after, horizon).length,
      latestPosition: async (horizon) => ({ queryValue: horizon ?? '0', tieBreak: null }),
      positionAtTime: () => ({ queryValue: '0', tieBreak: null }),
      close: async () => undefined,
    };
    return {
      name: 'postgres',
      connect: async () => connection,
      prepareStatements: () => [],
      execute: async () => undefined,
      mapError: (error) => error as never,
    };
  }
}

function sourceOn(table: FakeTable, options: Record<string, unknown> = {}): RdbmsSource {
  const config = resolveConfig(
    rdbmsSourceConfigSchema.parse({
      connectionString: 'postgres://h/db',
      table: 't',
      pageSize: 4,
      pollIntervalMs: 10,
      ...options,
    }),
  );
  return new RdbmsSource(config, table.dialect(), 'rows', silentLogger, new AbortController().signal);
}

const read = (source: RdbmsSource, maxRecords = 100, maxWaitMs = 30) =>
  source.read({ signal: new AbortController().signal, maxRecords, maxBytes: 1 << 20, maxWaitMs });
const ids = (batch: { records: readonly { key: Uint8Array | null }[] }) =>
  batch.records.map((record) => Number(Buffer.from(record.key!).toString()));

describe('RdbmsSource', () => {
  it('pages through the rows below the open horizon in pageSize pages, holding at most one page', async () => {
    const table = new FakeTable();
    table.rows = Array.from({ length: 10 }, (_, index) => ({ q: 1 + Math.floor(index / 3), k: index }));
    table.horizon = 100;
    const source = sourceOn(table);
    await source.open(null);
    const seen: number[] = [];
    for (let round = 0; round < 5; round += 1) seen.push(...ids(await read(source, 3)));
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(table.pages.every((page) => page.limit === 4)).toBe(true);
    // One horizon at open; the full pages reuse it; a short page ends the backfill.
    expect(table.horizonCalls).toBe(1);
    await source.close();
  });

  it('holds back rows at or above the horizon and reads them once it moves', async () => {
    const table = new FakeTable();
    table.rows = [
      { q: 5, k: 1 },
      { q: 7, k: 2 },
    ];
    table.horizon = 6;
    const source = sourceOn(table);
    await source.open(null);
    expect(ids(await read(source))).toEqual([1]);
    expect(ids(await read(source))).toEqual([]);
    table.rows.push({ q: 6, k: 3 });
    table.horizon = 8;
    expect(ids(await read(source))).toEqual([3, 2]);
    await source.close();
  });

  it('seeks to a watermark or back to the configured start, and ends with stopAtEnd', async () => {
    const table = new FakeTable();
    table.rows = Array.from({ length: 6 }, (_, index) => ({ q: 1, k: index }));
    table.horizon = 2;
    const source = sourceOn(table, { stopAtEnd: true });
    await source.open(null);
    const first = await read(source, 4);
    expect(ids(first)).toEqual([0, 1, 2, 3]);
    await source.seek({ t: first.records[1]!.position.next });
    expect(ids(await read(source, 2))).toEqual([2, 3]);
    expect(ids(await read(source))).toEqual([4, 5]);
    table.rows.push({ q: 3, k: 9 });
    table.horizon = 50;
    expect(await read(source)).toEqual({ records: [], end: true });
    await source.seek(null);
    expect(ids(await read(source, 2))).toEqual([0, 1]);
    await source.close();
  });

  it('reports progress of the backfill and recounts after a rewind', async () => {
    const table = new FakeTable();
    table.rows = Array.from({ length: 10 }, (_, index) => ({ q: 1, k: index }));
    table.horizon = 2;
    const source = sourceOn(table);
    expect(await source.progress()).toBeUndefined();
    await source.open(null);
    expect(await source.progress()).toEqual({ done: 0, total: 10 });
    const batch = await read(source, 3);
    expect(await source.progress()).toEqual({ done: 3, total: 10 });
    expect(await source.lag()).toBe(7);
    await source.seek({ t: batch.records[0]!.position.next });
    expect(await source.progress()).toEqual({ done: 1, total: 10 });
    while ((await read(source)).records.length > 0);
    expect(await source.progress()).toBeUndefined();
    expect(await source.lag()).toBeUndefined();
    await source.close();
  });

  it('starts at latest after the rows below the horizon, and close wakes a waiting read', async () => {
    const table = new FakeTable();
    table.rows = [{ q: 1, k: 1 }];
    table.horizon = 2;
    const source = sourceOn(table, { start: 'latest', pollIntervalMs: 10_000 });
    await source.open(null);
    const waiting = read(source, 10, 10_000);
    const started = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await source.close();
    expect(await waiting).toEqual({ records: [] });
    expect(Date.now() - started).toBeLessThan(2_000);
    await expect(read(source)).rejects.toThrow(/not open/);
  });
});
