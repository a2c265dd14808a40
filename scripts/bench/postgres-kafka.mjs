// Bench case postgres-kafka: the backfill of one PostgreSQL table by the rdbms source into the
// transactional Kafka sink, against a raw `pg` cursor read (DECLARE … CURSOR / FETCH, default
// row parsing) of the same table, measured in the same run, interleaved, median of --repeat runs
// (≥ 3). A third measurement reads the table with the rdbms source alone (no sink): the source's
// own cost against the same baseline.
//
//   npm run bench -- --scenario postgres-kafka [--records 1000000] [--repeat 3]
//
// Lines:
//   bench scenario=postgres-kafka records_per_s=<x> baseline=pg-cursor baseline_per_s=<y> ratio=<x/y>
//   bench scenario=postgres-source-read records_per_s=<x> baseline=pg-cursor baseline_per_s=<y> ratio=<x/y>
import os from 'node:os';
import { Pipeline } from '@tidemark/core';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';

const connectionString = process.env.TIDEMARK_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const brokers = (process.env.TIDEMARK_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const PAGE = 5_000;
const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };
const unique = (prefix) => `${prefix}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 7)}`;
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function createTable(admin, table, count) {
  const { prepare } = await import('@tidemark/source-rdbms');
  await admin.query(
    `CREATE TABLE ${table} (id bigserial PRIMARY KEY, customer int NOT NULL, amount numeric(12,2) NOT NULL,
     created_at timestamptz NOT NULL, note text NOT NULL)`,
  );
  await prepare({ connectionString, table });
  await admin.query(
    `INSERT INTO ${table} (customer, amount, created_at, note)
     SELECT g % 1000, (g % 100000) / 100.0, now() - g * interval '1 second', repeat('x', 40) || g
     FROM generate_series(1, $1) AS g`,
    [count],
  );
  await admin.query(`VACUUM ANALYZE ${table}`);
}

/** The baseline: a server-side cursor read with pg's default row parsing. */
async function cursorRead(table, count) {
  const client = new pg.Client({ connectionString });
  await client.connect();
  const started = performance.now();
  let rows = 0;
  await client.query('BEGIN');
  await client.query(
    `DECLARE bench_cursor NO SCROLL CURSOR FOR SELECT * FROM ${table} ORDER BY tidemark_txid, id`,
  );
  while (true) {
    const page = await client.query(`FETCH ${PAGE} FROM bench_cursor`);
    rows += page.rows.length;
    if (page.rows.length < PAGE) break;
  }
  await client.query('COMMIT');
  const seconds = (performance.now() - started) / 1000;
  await client.end();
  if (rows !== count) throw new Error(`cursor read ${rows} of ${count} rows`);
  return count / seconds;
}

function sourceOptions(table) {
  return { connectionString, table, pageSize: PAGE, stopAtEnd: true, applicationName: 'tidemark-bench' };
}

/** The rdbms source alone: read every row below the horizon, then end. */
async function sourceRead(table, count) {
  const { default: rdbmsSource } = await import('@tidemark/source-rdbms');
  const source = rdbmsSource.create(rdbmsSource.configSchema.parse(sourceOptions(table)), {
    name: 'bench',
    logger: silent,
    signal: new AbortController().signal,
  });
  const started = performance.now();
  await source.open(null);
  let rows = 0;
  const signal = new AbortController().signal;
  while (true) {
    const batch = await source.read({ signal, maxRecords: 10_000, maxBytes: 64 << 20, maxWaitMs: 100 });
    rows += batch.records.length;
    if (batch.end) break;
  }
  const seconds = (performance.now() - started) / 1000;
  await source.close();
  if (rows !== count) throw new Error(`source read ${rows} of ${count} rows`);
  return count / seconds;
}

/** Tidemark: rdbms source (bounded backfill) → transactional Kafka sink, committing every second. */
async function pipelineRun(table, count) {
  const [{ default: rdbmsSource }, { default: kafkaSink }] = await Promise.all([
    import('@tidemark/source-rdbms'),
    import('@tidemark/sink-kafka'),
  ]);
  const topic = unique('bench-postgres').replaceAll('_', '-');
  const admin = new Kafka({ clientId: 'tidemark-bench', brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({
    topics: [{ topic, numPartitions: 1, replicationFactor: 1 }],
    waitForLeaders: true,
  });
  const context = (name) => ({ name, logger: silent, signal: new AbortController().signal });
  const source = rdbmsSource.create(rdbmsSource.configSchema.parse(sourceOptions(table)), context('rows'));
  const sink = kafkaSink.create(
    kafkaSink.configSchema.parse({ brokers, topic, clientId: 'tidemark-bench', provenanceHeaders: 'none' }),
    context('sink'),
  );
  const pipeline = new Pipeline({
    id: unique('bench-postgres'),
    sources: [source],
    sink,
    commit: { maxWallMs: 1_000, maxRecords: 1_000_000, maxBytes: 256 * 1024 * 1024 },
  });
  const started = performance.now();
  const { status } = await pipeline.run();
  const seconds = (performance.now() - started) / 1000;
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
  if (status.recordsOut !== count)
    throw new Error(`pipeline delivered ${status.recordsOut} of ${count} rows`);
  return count / seconds;
}

/** Runs the case; `values` are the bench's parsed arguments (records, repeat). */
export default async function postgresKafka(values) {
  const count = values.records ? Number(values.records) : 1_000_000;
  const repeat = Math.max(3, Number(values.repeat ?? 3));
  console.log(
    `bench: node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${count} rows`,
  );
  const admin = new pg.Client({ connectionString });
  await admin.connect();
  const table = unique('bench_pg');
  const results = { cursor: [], source: [], pipeline: [] };
  try {
    const loading = performance.now();
    await createTable(admin, table, count);
    console.log(
      `  table ${table}: ${count} rows loaded in ${((performance.now() - loading) / 1000).toFixed(1)} s`,
    );
    for (let run = 0; run < repeat; run += 1) {
      results.cursor.push(await cursorRead(table, count));
      results.source.push(await sourceRead(table, count));
      results.pipeline.push(await pipelineRun(table, count));
      console.log(
        `  run ${run + 1}: pg cursor ${Math.round(results.cursor.at(-1))} rows/s; rdbms source ${Math.round(results.source.at(-1))} rows/s; pipeline to Kafka ${Math.round(results.pipeline.at(-1))} rows/s`,
      );
    }
  } finally {
    await admin.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
    await admin.end();
  }
  const baseline = median(results.cursor);
  for (const [name, value] of [
    ['postgres-kafka', median(results.pipeline)],
    ['postgres-source-read', median(results.source)],
  ]) {
    console.log(
      `bench scenario=${name} records_per_s=${Math.round(value)} baseline=pg-cursor baseline_per_s=${Math.round(baseline)} ratio=${(value / baseline).toFixed(2)}`,
    );
  }
}
