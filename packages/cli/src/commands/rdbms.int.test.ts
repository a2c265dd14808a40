import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareRdbmsSources } from './rdbms.js';

const connectionString = process.env.TIDEMARK_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const admin = new pg.Client({ connectionString });
const table = `tm_cli_prepare_${randomUUID().slice(0, 8)}`;
const directory = mkdtempSync(join(tmpdir(), 'tidemark-rdbms-cli-'));
const file = join(directory, 'pipeline.yaml');

beforeAll(async () => {
  await admin.connect();
  await admin.query(`CREATE TABLE ${table} (id bigserial PRIMARY KEY, payload text)`);
  writeFileSync(
    file,
    [
      'pipelines:',
      '  - name: rows-to-kafka',
      '    sources:',
      '      - name: rows',
      '        type: rdbms',
      `        connectionString: ${connectionString}`,
      `        table: ${table}`,
      '    sink:',
      '      type: kafka',
      '      topic: rows',
    ].join('\n'),
  );
});

afterAll(async () => {
  await admin.query(`DROP TABLE IF EXISTS ${table}`);
  await admin.query(`DROP FUNCTION IF EXISTS tidemark_stamp_${table}_tidemark_txid()`);
  await admin.end();
  rmSync(directory, { recursive: true, force: true });
});

describe('tidemark rdbms prepare', () => {
  it('prints the SQL with --dry-run, runs it otherwise (idempotently), and the column then stamps every write', async () => {
    const dry = await prepareRdbmsSources(file, { dryRun: true });
    expect(dry).toContain(`would run: pipeline rows-to-kafka, source rows (postgres table ${table})`);
    expect(dry).toContain('xid8 NOT NULL DEFAULT pg_current_xact_id()');
    const before = await admin.query(
      'SELECT 1 FROM information_schema.columns WHERE table_name = $1 AND column_name = $2',
      [table, 'tidemark_txid'],
    );
    expect(before.rowCount).toBe(0);
    expect(await prepareRdbmsSources(file, { dryRun: false })).toContain('prepared: pipeline rows-to-kafka');
    await prepareRdbmsSources(file, { dryRun: false });
    await admin.query(`INSERT INTO ${table} (payload) VALUES ('x')`);
    const stamped = await admin.query(`SELECT tidemark_txid::text AS txid FROM ${table}`);
    expect(stamped.rows[0].txid).toMatch(/^\d+$/);
    await expect(prepareRdbmsSources(file, { dryRun: true, pipelines: ['other'] })).rejects.toThrow(
      /no source of type rdbms/,
    );
  });
});
