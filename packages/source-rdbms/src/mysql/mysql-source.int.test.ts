import { randomUUID } from 'node:crypto';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepare } from '../index.js';
import { createTestSource, expectCode, readRecords, rowOf } from '../testing/source-harness.js';
import { CuttableProxy } from '../testing/tcp-cut.js';

const connectionString = process.env.TIDEMARK_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
let admin: mysql.Connection;
const tables: string[] = [];

beforeAll(async () => {
  admin = await mysql.createConnection({ uri: connectionString }).catch((error: unknown) => {
    throw new Error(`MariaDB is not reachable at 127.0.0.1:3306 (${String(error)}): the rdbms tests need it`);
  });
});

afterAll(async () => {
  for (const table of tables) await admin.query(`DROP TABLE IF EXISTS ${table}`);
  await admin.end();
});

async function preparedTable(prefix: string): Promise<string> {
  const table = `${prefix}_${randomUUID().slice(0, 8)}`;
  tables.push(table);
  await admin.query(
    `CREATE TABLE ${table} (id bigint AUTO_INCREMENT PRIMARY KEY, payload varchar(64) NOT NULL)`,
  );
  await prepare({ connectionString, table });
  return table;
}

const payloads = (records: Parameters<typeof rowOf>[0][]) => records.map((record) => rowOf(record).payload);
const options = { connectionString, pollIntervalMs: 20, horizonLagMs: 200 };

describe('mysql rdbms source', () => {
  it('delivers a row of a transaction that began first and commits last (with a lower id) exactly once', async () => {
    const table = await preparedTable('tm_late');
    const late = await mysql.createConnection({ uri: connectionString });
    const source = createTestSource({ ...options, table });
    try {
      await late.query('START TRANSACTION');
      await late.query(`INSERT INTO ${table} (payload) VALUES ('late')`);
      await admin.query(`INSERT INTO ${table} (payload) VALUES ('early-1'), ('early-2')`);
      // Past the clock lag: only the open transaction holds the later rows back now.
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      await source.open(null);
      expect((await readRecords(source, 1, { timeoutMs: 800 })).records).toHaveLength(0);
      await late.query('COMMIT');
      const first = await readRecords(source, 3);
      expect(payloads(first.records)).toEqual(['late', 'early-1', 'early-2']);
      await source.close();
      await source.open(first.watermark);
      expect((await readRecords(source, 1, { timeoutMs: 600 })).records).toHaveLength(0);
    } finally {
      await source.close();
      await late.end();
    }
  });

  it('delivers an update made in a late-committing transaction as a new version, once', async () => {
    const table = await preparedTable('tm_upd');
    await admin.query(`INSERT INTO ${table} (payload) VALUES ('a'), ('b')`);
    const source = createTestSource({ ...options, table });
    const writer = await mysql.createConnection({ uri: connectionString });
    try {
      await source.open(null);
      expect(payloads((await readRecords(source, 2)).records)).toEqual(['a', 'b']);
      await writer.query('START TRANSACTION');
      await writer.query(`UPDATE ${table} SET payload = 'a2' WHERE id = 1`);
      await admin.query(`INSERT INTO ${table} (payload) VALUES ('c')`);
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      expect((await readRecords(source, 1, { timeoutMs: 600 })).records).toHaveLength(0);
      await writer.query('COMMIT');
      expect(payloads((await readRecords(source, 2)).records)).toEqual(['a2', 'c']);
      expect((await readRecords(source, 1, { timeoutMs: 600 })).records).toHaveLength(0);
    } finally {
      await source.close();
      await writer.end();
    }
  });

  it('reconnects after the connection is cut and resumes exactly after the watermark', async () => {
    const table = await preparedTable('tm_cut');
    const rows = Array.from({ length: 30 }, (_, index) => [`row-${index + 1}`]);
    await admin.query(`INSERT INTO ${table} (payload) VALUES ?`, [rows]);
    const proxy = new CuttableProxy(3306);
    const port = await proxy.start();
    const source = createTestSource({
      ...options,
      connectionString: `mysql://root@127.0.0.1:${port}/test`,
      table,
      pageSize: 10,
    });
    try {
      await source.open(null);
      const first = await readRecords(source, 10);
      expect(first.records).toHaveLength(10);
      expect(proxy.cut()).toBeGreaterThan(0);
      const failure = await expectCode(
        readRecords(source, 30, { base: first.watermark }),
        'CONNECTION_FAILED',
      );
      expect(failure.retriable).toBe(true);
      await source.seek(first.watermark);
      const rest = await readRecords(source, 20);
      expect(payloads([...first.records, ...rest.records])).toEqual(rows.map(([payload]) => payload));
    } finally {
      await source.close();
      await proxy.close();
    }
  });

  it('maps every column type to JSON without loss, and a time to a position', async () => {
    const table = `tm_types_${randomUUID().slice(0, 8)}`;
    tables.push(table);
    await admin.query(`CREATE TABLE ${table} (id int PRIMARY KEY, small smallint, big bigint unsigned,
      exact decimal(30,9), double_value double, label varchar(32), doc json, raw varbinary(8), blob_value blob,
      at timestamp(6) NULL, local_at datetime(6), day date, flag bit(8), nothing text)`);
    await prepare({ connectionString, table });
    await admin.query(`INSERT INTO ${table} (id, small, big, exact, double_value, label, doc, raw, blob_value, at,
      local_at, day, flag, nothing) VALUES (1, -7, 18446744073709551615, 123456789012345678901.123456789, 0.1,
      'é "quoted"', '{"n": 12345678901234567890}', x'00ff10', x'0102', '2026-01-31 12:34:56.123456',
      '2026-01-31 12:34:56.654321', '2026-01-31', b'00000101', NULL)`);
    const source = createTestSource({ ...options, table });
    try {
      await source.open(null);
      const [record] = (await readRecords(source, 1)).records;
      const text = Buffer.from(record!.value!).toString('utf8');
      expect(text).toContain('"doc":{"n": 12345678901234567890}');
      expect(rowOf(record!)).toMatchObject({
        id: 1,
        small: -7,
        big: '18446744073709551615',
        exact: '123456789012345678901.123456789',
        double_value: 0.1,
        label: 'é "quoted"',
        raw: 'AP8Q',
        blob_value: 'AQI=',
        at: '2026-01-31T12:34:56.123456Z',
        local_at: '2026-01-31T12:34:56.654321',
        day: '2026-01-31',
        flag: 'BQ==',
        nothing: null,
      });
      expect(record!.provenance['rdbms.query_col']).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$/);
      const atTime = await source.watermarkAt!({ time: Date.UTC(2026, 0, 31) });
      expect(atTime).toEqual({ [table]: { q: '2026-01-31 00:00:00.000000', k: null } });
    } finally {
      await source.close();
    }
  });

  it('fails with typed errors that carry a fix', async () => {
    const table = await preparedTable('tm_err');
    await admin.query(`CREATE TABLE ${table}_plain (id int PRIMARY KEY)`);
    tables.push(`${table}_plain`);
    const open = (extra: Record<string, unknown>) =>
      createTestSource({ ...options, table, ...extra }).open(null);
    await expectCode(open({ table: `${table}_missing` }), 'NOT_FOUND');
    await expectCode(open({ table: `${table}_plain` }), 'SCHEMA_MISMATCH');
    await expectCode(open({ queryCol: 'id' }), 'SCHEMA_MISMATCH');
    await admin.query(`ALTER TABLE ${table}_plain ADD COLUMN local_at DATETIME(6) NOT NULL DEFAULT NOW(6)`);
    await expectCode(open({ table: `${table}_plain`, queryCol: 'local_at' }), 'SCHEMA_MISMATCH');
    await expectCode(
      open({ connectionString: 'mysql://root:wrong-secret@127.0.0.1:3306/test' }),
      'AUTH_FAILED',
    );
    await expectCode(open({ connectionString: 'mysql://root@127.0.0.1:3306/no_such_db_tm' }), 'NOT_FOUND');
    const unreachable = await expectCode(
      open({ connectionString: 'mysql://root:secret@127.0.0.1:1/test' }),
      'CONNECTION_FAILED',
    );
    expect(unreachable.retriable).toBe(true);
    expect(unreachable.message).not.toContain('secret');
  });
});
