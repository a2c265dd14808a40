import { randomUUID } from 'node:crypto';
import { describeSourceConformance } from '@tidemark/sdk/testing';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import rdbmsSource, { prepare } from '../index.js';

const connectionString = process.env.TIDEMARK_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const admin = new pg.Client({ connectionString });
let table = '';

beforeAll(async () => {
  await admin.connect().catch((error: unknown) => {
    throw new Error(
      `PostgreSQL is not reachable at 127.0.0.1:5432 (${String(error)}): start it, the rdbms tests need it`,
    );
  });
});

afterAll(async () => {
  await admin.end();
});

describeSourceConformance({
  connector: rdbmsSource,
  title: 'source conformance: rdbms (postgres)',
  config: () => ({ connectionString, table, pollIntervalMs: 20, pageSize: 3 }),
  setup: async () => {
    table = `tm_conf_${randomUUID().slice(0, 8)}`;
    await admin.query(`CREATE TABLE ${table} (id bigserial PRIMARY KEY, payload text NOT NULL)`);
    await prepare({ connectionString, table });
  },
  cleanup: async () => {
    await admin.query(`DROP TABLE IF EXISTS ${table}`);
    await admin.query(`DROP FUNCTION IF EXISTS tidemark_stamp_${table}_tidemark_txid()`);
  },
  produce: async (count) => {
    const ids = Array.from({ length: count }, () => randomUUID());
    await admin.query(`INSERT INTO ${table} (payload) SELECT unnest($1::text[])`, [ids]);
    return ids;
  },
  idOf: (record) =>
    (JSON.parse(Buffer.from(record.value ?? new Uint8Array()).toString('utf8')) as { payload: string })
      .payload,
  badConfig: { connectionString: 'postgres://x', table: 't', query: 'SELECT 1', pageSize: 0 },
});
