// Chaos scenario mysql-kafka: a MariaDB / MySQL table written by concurrent writers (transactions
// held open for seconds and committed late, with lower ids than rows committed meanwhile;
// updates; rollbacks) → rdbms source → Kafka. The pipeline is SIGKILLed at random, and the
// source's database connection (through a loopback proxy) is cut at least 3 times. Checked as
// described in rdbms-common.mjs.

import { prepare } from '@tidemark/source-rdbms';
import mysql from 'mysql2/promise';
import { uniqueName } from '../harness.mjs';
import { TcpProxy } from '../tcp-proxy.mjs';
import { runRdbmsScenario } from './rdbms-common.mjs';

const connectionString = process.env.TIDEMARK_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

function mysqlWriters(table) {
  return {
    connect: () => mysql.createConnection({ uri: connectionString }),
    begin: (connection) => connection.query('START TRANSACTION'),
    insert: (connection, rows) =>
      connection.query(`INSERT INTO ${table} (row_key, writer, seq, version, payload) VALUES ?`, [
        rows.map((row) => [row.row_key, row.writer, row.seq, row.version, row.payload]),
      ]),
    update: (connection, keys) =>
      connection.query(`UPDATE ${table} SET version = version + 1 WHERE row_key IN (?)`, [keys]),
    commit: (connection) => connection.query('COMMIT'),
    rollback: (connection) => connection.query('ROLLBACK'),
    end: (connection) => connection.end(),
  };
}

export default async function mysqlKafka({ kills, seed, log }) {
  const table = uniqueName('chaos_mysql').replaceAll('-', '_');
  const admin = await mysql.createConnection({ uri: connectionString });
  const url = new URL(connectionString);
  const proxy = new TcpProxy({ targetHost: url.hostname, targetPort: Number(url.port || 3306) });
  const port = await proxy.start();
  url.host = `127.0.0.1:${port}`;
  try {
    await admin.query(
      `CREATE TABLE ${table} (id bigint AUTO_INCREMENT PRIMARY KEY, row_key varchar(32) NOT NULL UNIQUE,
       writer int NOT NULL, seq int NOT NULL, version int NOT NULL, payload varchar(32))`,
    );
    await prepare({ connectionString, table });
    const result = await runRdbmsScenario({
      kills,
      seed,
      log,
      prefix: 'chaos-mysql',
      database: mysqlWriters(table),
      sourceOptions: { connectionString: url.toString(), table, pollIntervalMs: 200, pageSize: 500 },
      disrupt: async () => {
        if (proxy.connections === 0) return false;
        proxy.cut();
        return true;
      },
    });
    return { ...result, notes: `${result.notes} (proxy cuts)` };
  } finally {
    await proxy.close();
    await admin.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
    await admin.end();
  }
}
