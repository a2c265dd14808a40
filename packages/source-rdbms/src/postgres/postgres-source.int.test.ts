import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import rdbmsSource, { prepare, type RdbmsSourceConfig, rdbmsSourceConfigSchema } from '../index.js';
import { createTestSource, expectCode, readRecords, rowOf } from '../testing/source-harness.js';

const connectionString = process.env.TIDEMARK_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const admin = new pg.Client({ connectionString });
const tables: string[] = [];

beforeAll(async () => {
  await admin.connect().catch((error: unknown) => {
    throw new Error(
      `PostgreSQL is not reachable at 127.0.0.1:5432 (${String(error)}): the rdbms tests need it`,
    );
  });
});

afterAll(async () => {
  for (const table of tables) await admin.query(`DROP TABLE IF EXISTS ${table}`);
  await admin.end();
});

/** A fresh prepared table `(id bigserial, payload text, tidemark_txid xid8)`. */
async function preparedTable(prefix: string): Promise<string> {
  const table = `${prefix}_${randomUUID().slice(0, 8)}`;
  tables.push(table);
  await admin.query(`CREATE TABLE ${table} (id bigserial PRIMARY KEY, payload text NOT NULL)`);
  await prepare({ connectionString, table });
  return table;
}

const payloads = (records: readonly { value: Uint8Array | null }[]) =>
  records.map((record) => rowOf(record as never).payload);

describe('postgres rdbms source', () => {
  it('delivers a row of a transaction that began first and commits last (with a lower id) exactly once', async () => {
    const table = await preparedTable('tm_late');
    const late = new pg.Client({ connectionString });
    await late.connect();
    const source = createTestSource({ connectionString, table, pollIntervalMs: 20 });
    try {
      await late.query('BEGIN');
      await late.query(`INSERT INTO ${table} (payload) VALUES ('late')`);
      await admin.query(`INSERT INTO ${table} (payload) VALUES ('early-1'), ('early-2')`);
      await source.open(null);
      // The later rows are committed, but a naive `id > last` poller would read them now and
      // skip 'late' (id 1) when it commits: the horizon holds them back instead.
      const held = await readRecords(source, 1, { timeoutMs: 800 });
      expect(payloads(held.records)).toEqual([]);
      const lateId = (await late.query(`SELECT id FROM ${table} WHERE payload = 'late'`)).rows[0].id;
      await late.query('COMMIT');
      const first = await readRecords(source, 3);
      expect(payloads(first.records)).toEqual(['late', 'early-1', 'early-2']);
      expect(first.records[0]!.provenance['rdbms.key']).toBe(String(lateId));
      await source.close();
      await source.open(first.watermark);
      const again = await readRecords(source, 1, { timeoutMs: 500 });
      expect(again.records).toHaveLength(0);
    } finally {
      await source.close();
      await late.end();
    }
  });

  it('delivers an update made in a late-committing transaction as a new version, once', async () => {
    const table = await preparedTable('tm_upd');
    await admin.query(`INSERT INTO ${table} (payload) VALUES ('a'), ('b')`);
    const source = createTestSource({ connectionString, table, pollIntervalMs: 20 });
    const writer = new pg.Client({ connectionString });
    await writer.connect();
    try {
      await source.open(null);
      const initial = await readRecords(source, 2);
      expect(payloads(initial.records)).toEqual(['a', 'b']);
      await writer.query('BEGIN');
      await writer.query(`UPDATE ${table} SET payload = 'a2' WHERE payload = 'a'`);
      await admin.query(`INSERT INTO ${table} (payload) VALUES ('c')`);
      expect((await readRecords(source, 1, { timeoutMs: 600 })).records).toHaveLength(0);
      await writer.query('COMMIT');
      const next = await readRecords(source, 2);
      expect(payloads(next.records)).toEqual(['a2', 'c']);
      expect((await readRecords(source, 1, { timeoutMs: 400 })).records).toHaveLength(0);
    } finally {
      await source.close();
      await writer.end();
    }
  });

  it('reconnects after pg_terminate_backend and resumes exactly after the watermark', async () => {
    const table = await preparedTable('tm_kill');
    const applicationName = `tm-kill-${randomUUID().slice(0, 8)}`;
    await admin.query(`INSERT INTO ${table} (payload) SELECT 'row-' || g FROM generate_series(1, 30) AS g`);
    const source = createTestSource({
      connectionString,
      table,
      pageSize: 10,
      pollIntervalMs: 20,
      applicationName,
    });
    try {
      await source.open(null);
      const first = await readRecords(source, 10);
      expect(first.records).toHaveLength(10);
      const killed = await admin.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1',
        [applicationName],
      );
      expect(killed.rowCount).toBe(1);
      const failure = await expectCode(
        readRecords(source, 30, { base: first.watermark }),
        'CONNECTION_FAILED',
      );
      expect(failure.retriable).toBe(true);
      await source.seek(first.watermark);
      const rest = await readRecords(source, 20);
      expect(payloads([...first.records, ...rest.records])).toEqual(
        Array.from({ length: 30 }, (_, index) => `row-${index + 1}`),
      );
    } finally {
      await source.close();
    }
  });

  it('reports backfill progress: done/total while below the open horizon, undefined once caught up', async () => {
    const table = await preparedTable('tm_prog');
    await admin.query(`INSERT INTO ${table} (payload) SELECT 'p' || g FROM generate_series(1, 50) AS g`);
    const source = createTestSource({ connectionString, table, pageSize: 10, pollIntervalMs: 20 });
    try {
      await source.open(null);
      expect(await source.progress?.()).toEqual({ done: 0, total: 50 });
      const first = await source.read({
        signal: new AbortController().signal,
        maxRecords: 7,
        maxBytes: 1 << 20,
        maxWaitMs: 100,
      });
      expect(first.records).toHaveLength(7);
      expect(await source.progress?.()).toEqual({ done: 7, total: 50 });
      await source.seek({ [table]: first.records[2]!.position.next });
      expect(await source.progress?.()).toEqual({ done: 3, total: 50 });
      const rest = await readRecords(source, 47);
      expect(rest.records).toHaveLength(47);
      await source.read({
        signal: new AbortController().signal,
        maxRecords: 10,
        maxBytes: 1 << 20,
        maxWaitMs: 50,
      });
      expect(await source.progress?.()).toBeUndefined();
    } finally {
      await source.close();
    }
  });

  it('reads a custom query, and starts at latest / watermarkAt(latest) after the existing rows', async () => {
    const table = await preparedTable('tm_query');
    await admin.query(`INSERT INTO ${table} (payload) VALUES ('old-1'), ('old-2'), ('skip')`);
    const query = `SELECT id, upper(payload) AS loud, tidemark_txid FROM ${table} WHERE payload <> 'skip'`;
    const reader = createTestSource({ connectionString, query, pollIntervalMs: 20 });
    const latest = createTestSource({ connectionString, table, start: 'latest', pollIntervalMs: 20 });
    try {
      await reader.open(null);
      const read = await readRecords(reader, 2);
      expect(read.records.map((record) => rowOf(record).loud)).toEqual(['OLD-1', 'OLD-2']);
      expect(read.records[0]!.provenance['rdbms.table']).toBe('rows');
      expect(Object.keys(read.watermark)).toEqual(['query']);
      const target = await latest.watermarkAt!({ latest: true });
      await latest.open(null);
      await admin.query(`INSERT INTO ${table} (payload) VALUES ('new')`);
      expect(payloads((await readRecords(latest, 1)).records)).toEqual(['new']);
      await latest.close();
      await latest.open(target);
      expect(payloads((await readRecords(latest, 1)).records)).toEqual(['new']);
      await expectCode(latest.watermarkAt!({ time: Date.now() }), 'CONFIG_INVALID');
    } finally {
      await reader.close();
      await latest.close();
    }
  });

  it('with horizon: none reads a timestamptz queryCol at once, and maps a time to a position', async () => {
    const table = `tm_none_${randomUUID().slice(0, 8)}`;
    tables.push(table);
    await admin.query(`CREATE TABLE ${table} (id int PRIMARY KEY, created_at timestamptz NOT NULL)`);
    await admin.query(
      `INSERT INTO ${table} VALUES (1, '2026-01-01 00:00:00.000001+00'), (2, '2026-01-01 00:00:00.000001+00'), (3, '2026-02-01 00:00:00+00')`,
    );
    const source = createTestSource({ connectionString, table, queryCol: 'created_at', horizon: 'none' });
    try {
      await source.open(null);
      const all = await readRecords(source, 3);
      expect(all.records.map((record) => record.provenance['rdbms.query_col'])).toEqual([
        '2026-01-01 00:00:00.000001+00',
        '2026-01-01 00:00:00.000001+00',
        '2026-02-01 00:00:00+00',
      ]);
      await source.seek({ [table]: all.records[0]!.position.next });
      expect((await readRecords(source, 2)).records.map((record) => rowOf(record).id)).toEqual([2, 3]);
      const fromTime = await source.watermarkAt!({ time: Date.parse('2026-01-15T00:00:00Z') });
      await source.seek(fromTime);
      expect((await readRecords(source, 1)).records.map((record) => rowOf(record).id)).toEqual([3]);
    } finally {
      await source.close();
    }
  });

  it('maps every column type to JSON without loss', async () => {
    const table = `tm_types_${randomUUID().slice(0, 8)}`;
    tables.push(table);
    await admin.query(`CREATE TABLE ${table} (
      id int PRIMARY KEY, small smallint, big bigint, exact numeric, real_value real, double_value double precision,
      flag boolean, label text, tags text[], doc jsonb, raw bytea, at timestamptz, local_at timestamp, day date,
      span interval, uid uuid, nothing text)`);
    await prepare({ connectionString, table });
    await admin.query(`INSERT INTO ${table} VALUES (1, -7, 9007199254740993, 12345678901234567890.123456789, 1.5,
      0.1, true, 'é "quoted"', ARRAY['a','b'], '{"n": 12345678901234567890, "s": "x"}', '\\x00ff10',
      '2026-01-31 12:34:56.123456+02', '2026-01-31 12:34:56.654321', '2026-01-31', '1 day 2 hours',
      'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', NULL)`);
    const source = createTestSource({ connectionString, table });
    try {
      await source.open(null);
      const [record] = (await readRecords(source, 1)).records;
      const text = Buffer.from(record!.value!).toString('utf8');
      expect(text).toContain('"big":"9007199254740993"');
      expect(text).toContain('"doc":{"n": 12345678901234567890, "s": "x"}');
      const row = rowOf(record!);
      expect(row).toMatchObject({
        id: 1,
        small: -7,
        big: '9007199254740993',
        exact: '12345678901234567890.123456789',
        real_value: 1.5,
        double_value: 0.1,
        flag: true,
        label: 'é "quoted"',
        tags: ['a', 'b'],
        raw: Buffer.from([0, 255, 16]).toString('base64'),
        at: '2026-01-31T10:34:56.123456Z',
        local_at: '2026-01-31T12:34:56.654321',
        day: '2026-01-31',
        span: 'P1DT2H',
        uid: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
        nothing: null,
      });
      expect(typeof row.tidemark_txid).toBe('string');
    } finally {
      await source.close();
    }
  });

  it('fails with typed errors that carry a fix', async () => {
    const table = await preparedTable('tm_err');
    await admin.query(`CREATE TABLE ${table}_plain (id int PRIMARY KEY)`);
    tables.push(`${table}_plain`);
    const open = (options: Record<string, unknown>) =>
      createTestSource({ connectionString, table, ...options }).open(null);
    await expectCode(open({ table: `${table}_missing` }), 'NOT_FOUND');
    await expectCode(open({ table: `${table}_plain` }), 'SCHEMA_MISMATCH');
    await expectCode(open({ queryCol: 'id' }), 'SCHEMA_MISMATCH');
    await expectCode(open({ tieBreakCol: 'nope' }), 'SCHEMA_MISMATCH');
    await expectCode(
      open({ connectionString: 'postgres://no_such_role_tm@127.0.0.1:5432/test' }),
      'AUTH_FAILED',
    );
    await expectCode(
      open({ connectionString: 'postgres://postgres@127.0.0.1:5432/no_such_db_tm' }),
      'NOT_FOUND',
    );
    const check = (rdbmsSource as unknown as { check(config: RdbmsSourceConfig): Promise<void> }).check;
    await check(rdbmsSourceConfigSchema.parse({ connectionString, table }));
    await expectCode(
      check(rdbmsSourceConfigSchema.parse({ connectionString, table: `${table}_missing` })),
      'NOT_FOUND',
    );
    const unreachable = await expectCode(
      open({ connectionString: 'postgres://postgres:secret@127.0.0.1:1/test' }),
      'CONNECTION_FAILED',
    );
    expect(unreachable.retriable).toBe(true);
    expect(unreachable.message).not.toContain('secret');
  });
});
