import { randomUUID } from 'node:crypto';
import { describeSourceConformance } from '@tidemark/sdk/testing';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll } from 'vitest';
import rdbmsSource, { prepare } from '../index.js';

const connectionString = process.env.TIDEMARK_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
let admin: mysql.Connection;
let table = '';

beforeAll(async () => {
  admin = await mysql.createConnection({ uri: connectionString }).catch((error: unknown) => {
    throw new Error(`MariaDB is not reachable at 127.0.0.1:3306 (${String(error)}): the rdbms tests need it`);
  });
});

afterAll(async () => {
  await admin.end();
});

describeSourceConformance({
  connector: rdbmsSource,
  title: 'source conformance: rdbms (mysql)',
  // The in-flight horizon trails the server clock by horizonLagMs (≥ 200 ms).
  config: () => ({ connectionString, table, pollIntervalMs: 20, pageSize: 3, horizonLagMs: 200 }),
  setup: async () => {
    table = `tm_conf_${randomUUID().slice(0, 8)}`;
    await admin.query(
      `CREATE TABLE ${table} (id bigint AUTO_INCREMENT PRIMARY KEY, payload varchar(64) NOT NULL)`,
    );
    await prepare({ connectionString, table });
  },
  cleanup: async () => {
    await admin.query(`DROP TABLE IF EXISTS ${table}`);
  },
  produce: async (count) => {
    const ids = Array.from({ length: count }, () => randomUUID());
    await admin.query(`INSERT INTO ${table} (payload) VALUES ?`, [ids.map((id) => [id])]);
    return ids;
  },
  idOf: (record) =>
    (JSON.parse(Buffer.from(record.value ?? new Uint8Array()).toString('utf8')) as { payload: string })
      .payload,
  badConfig: { connectionString: 'mysql://x', table: 't', query: 'SELECT 1', pageSize: 0 },
});
