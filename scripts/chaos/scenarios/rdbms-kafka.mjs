// Chaos scenario rdbms-kafka: a PostgreSQL table written by concurrent writers (transactions
// held open for seconds and committed late, with lower ids than rows committed meanwhile;
// updates; rollbacks) → rdbms source → Kafka. The pipeline is SIGKILLed at random, and the
// source's own PostgreSQL connection is terminated (pg_terminate_backend, found by its
// application_name) at least 3 times. Checked as described in rdbms-common.mjs.

import { prepare } from '@tidemark/source-rdbms';
import pg from 'pg';
import { uniqueName } from '../harness.mjs';
import { runRdbmsScenario } from './rdbms-common.mjs';

const connectionString = process.env.TIDEMARK_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

function postgresWriters(table) {
  return {
    connect: async () => {
      const client = new pg.Client({ connectionString, application_name: 'tidemark-chaos-writer' });
      await client.connect();
      return client;
    },
    begin: (client) => client.query('BEGIN'),
    insert: (client, rows) =>
      client.query(
        `INSERT INTO ${table} (row_key, writer, seq, version, payload)
         SELECT * FROM unnest($1::text[], $2::int[], $3::int[], $4::int[], $5::text[])`,
        [
          rows.map((row) => row.row_key),
          rows.map((row) => row.writer),
          rows.map((row) => row.seq),
          rows.map((row) => row.version),
          rows.map((row) => row.payload),
        ],
      ),
    update: (client, keys) =>
      client.query(`UPDATE ${table} SET version = version + 1 WHERE row_key = ANY($1::text[])`, [keys]),
    commit: (client) => client.query('COMMIT'),
    rollback: (client) => client.query('ROLLBACK'),
    end: (client) => client.end(),
  };
}

export default async function rdbmsKafka({ kills, seed, log }) {
  const table = uniqueName('chaos_rdbms').replaceAll('-', '_');
  const applicationName = uniqueName('tm-chaos-src');
  const admin = new pg.Client({ connectionString });
  await admin.connect();
  try {
    await admin.query(
      `CREATE TABLE ${table} (id bigserial PRIMARY KEY, row_key text UNIQUE NOT NULL, writer int NOT NULL,
       seq int NOT NULL, version int NOT NULL, payload text)`,
    );
    await prepare({ connectionString, table });
    const result = await runRdbmsScenario({
      kills,
      seed,
      log,
      prefix: 'chaos-rdbms',
      database: postgresWriters(table),
      sourceOptions: { connectionString, table, pollIntervalMs: 100, pageSize: 500, applicationName },
      disrupt: async () => {
        const killed = await admin.query(
          'SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity WHERE application_name = $1',
          [applicationName],
        );
        return killed.rows.some((row) => row.done === true);
      },
    });
    return { ...result, notes: `${result.notes} (pg_terminate_backend)` };
  } finally {
    await admin.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
    await admin.end();
  }
}
