// PostgreSQL pieces of the chaos scenarios: a verifier that reads the sink table from another
// session (committed rows only) and counts rows by id and by provenance, a commit slowed down
// so it can be hit, and a terminator that ends the sink's backend with pg_terminate_backend.
import pg from 'pg';
import { CommittedReader, PipelineProcess, sleep } from './harness.mjs';
import { finish } from './scenarios.mjs';

export const postgres = {
  host: process.env.PGHOST ?? '127.0.0.1',
  port: Number(process.env.PGPORT ?? 5432),
  database: process.env.PGDATABASE ?? 'test',
  user: process.env.PGUSER ?? 'postgres',
};

export async function sql(text, values = []) {
  const client = new pg.Client(postgres);
  await client.connect();
  try {
    return (await client.query(text, values)).rows;
  } finally {
    await client.end();
  }
}

/**
 * A watermark table of the scenario's own whose every update runs a deferred trigger sleeping
 * `sleepMs` at COMMIT: the sink's COMMIT stays active long enough to be terminated mid-way.
 */
export async function slowCommitWatermarkTable(name, sleepMs) {
  await sql(`CREATE TABLE ${name} (
    pipeline_id text NOT NULL, task_id text NOT NULL DEFAULT '', epoch bigint NOT NULL DEFAULT 0,
    sequence bigint NOT NULL DEFAULT 0, watermark text, rowtime timestamptz, committed_at timestamptz,
    owner text, opened_at timestamptz, PRIMARY KEY (pipeline_id, task_id))`);
  await sql(`CREATE FUNCTION ${name}_slow() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN PERFORM pg_sleep(${sleepMs / 1000}); RETURN NULL; END $$`);
  await sql(`CREATE CONSTRAINT TRIGGER ${name}_slow AFTER UPDATE ON ${name}
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ${name}_slow()`);
}

/**
 * Reads `{ id, stream, seq }` rows of `table` in insertion order (column `row_id`) as they
 * commit; `records` grows as CommittedReader's does. `stop()` reads the whole table once more
 * and counts rows sharing a provenance (`provenanceColumns`).
 */
export class PostgresVerifier {
  constructor(table, provenanceColumns) {
    this.table = table;
    this.provenanceColumns = provenanceColumns;
    this.records = [];
    this.provenanceDuplicates = 0;
    this.lastRowId = 0;
    this.running = false;
  }

  async start() {
    this.client = new pg.Client(postgres);
    await this.client.connect();
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        const { rows } = await this.client.query(
          `SELECT row_id, id, stream, seq FROM ${this.table} WHERE row_id > $1 ORDER BY row_id`,
          [this.lastRowId],
        );
        for (const row of rows) {
          this.lastRowId = Number(row.row_id);
          this.records.push({ id: row.id, stream: row.stream, seq: Number(row.seq) });
        }
        await sleep(200);
      }
    })();
  }

  /** Waits until `count` distinct ids committed, as CommittedReader does. */
  waitFor = CommittedReader.prototype.waitFor;

  async stop() {
    this.running = false;
    await this.loop;
    const { rows } = await this.client.query(`SELECT id, stream, seq FROM ${this.table} ORDER BY row_id`);
    this.records = rows.map((row) => ({ id: row.id, stream: row.stream, seq: Number(row.seq) }));
    const columns = this.provenanceColumns.map((column) => `"${column}"`).join(', ');
    const [{ extra }] = (
      await this.client.query(
        `SELECT coalesce(sum(n - 1), 0)::int AS extra FROM (SELECT count(*) AS n FROM ${this.table} GROUP BY ${columns}) c`,
      )
    ).rows;
    this.provenanceDuplicates = extra;
    await this.client.end();
  }
}

/**
 * Ends the backend of the sink connection named `applicationName` at random moments: mostly
 * while it runs COMMIT (`midCommit` counts those), sometimes in whatever state it is.
 */
export class BackendTerminator {
  constructor(applicationName, rng, log) {
    this.applicationName = applicationName;
    this.rng = rng;
    this.log = log;
    this.midCommit = 0;
    this.other = 0;
    this.running = false;
  }

  start() {
    this.running = true;
    this.done = (async () => {
      const client = new pg.Client(postgres);
      await client.connect();
      try {
        while (this.running) {
          await sleep(this.rng.between(700, 2_500));
          const commitOnly = this.rng() < 0.8;
          const deadline = Date.now() + 3_000;
          while (this.running && Date.now() < deadline) {
            const { rows } = await client.query(
              `SELECT pid, query, state FROM pg_stat_activity WHERE application_name = $1
               AND ($2::bool IS FALSE OR (state = 'active' AND query = 'COMMIT'))`,
              [this.applicationName, commitOnly],
            );
            if (rows.length > 0) {
              const [{ ended }] = (
                await client.query('SELECT pg_terminate_backend($1) AS ended', [rows[0].pid])
              ).rows;
              if (ended && commitOnly) this.midCommit += 1;
              else if (ended) this.other += 1;
              break;
            }
            await sleep(5);
          }
        }
      } finally {
        await client.end();
      }
    })();
  }

  /** Keeps going until `midCommit` reaches `count` (or `timeoutMs` passed), then stops. */
  async stopAfter(count, timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    while (this.midCommit < count && Date.now() < deadline) await sleep(100);
    this.running = false;
    await this.done;
  }
}

/**
 * Replaces the pipeline `kills` times at random moments: mostly by SIGKILL and a restart, every
 * fifth time by starting a second instance while the first still runs, which must then be
 * fenced by the newer one (exit code 3). Returns the instance left running.
 */
async function killOrFenceLoop({ kills, rng, log, spec }) {
  let current = new PipelineProcess(spec, log);
  let fenced = 0;
  for (let kill = 1; kill <= kills; kill += 1) {
    await sleep(rng.between(400, 2_500));
    if (!current.alive) {
      const code = await current.exited;
      throw new Error(
        `pipeline exited by itself with ${code} before kill ${kill}:\n${current.stderrTail.join('\n')}`,
      );
    }
    if (kill % 5 === 0) {
      const newer = new PipelineProcess(spec, log);
      const outcome = await Promise.race([current.exited, sleep(20_000).then(() => 'still running')]);
      if (outcome !== 3) {
        await current.kill('SIGKILL');
        await newer.kill('SIGKILL');
        throw new Error(
          `the older instance was not fenced (outcome: ${outcome}):\n${current.stderrTail.join('\n')}`,
        );
      }
      fenced += 1;
      current = newer;
    } else {
      await current.kill('SIGKILL');
      current = new PipelineProcess(spec, log);
    }
    if (kill % 10 === 0 || kill === kills) log(`kill ${kill}/${kills}`);
  }
  return { current, fenced };
}

/**
 * The common run of a PostgreSQL scenario: replaces the pipeline `kills` times (SIGKILL, or a
 * newer instance that fences it) while a terminator ends its sink connection (at least three
 * times mid-commit), lets it catch up, verifies by id and by provenance.
 */
export async function runPostgresScenario({ kills, rng, log, spec, feeder, reader, notes = '' }) {
  const terminator = new BackendTerminator(`tidemark:${spec.pipelineId}`, rng, log);
  terminator.start();
  const { current, fenced } = await killOrFenceLoop({ kills, rng, log, spec });
  await terminator.stopAfter(Math.min(3, kills), 30_000);
  const result = await finish({ feeder, reader, current, log, kills });
  return {
    ...result,
    notes:
      `terminated_mid_commit=${terminator.midCommit} terminated_other=${terminator.other} fenced=${fenced} ` +
      `provenance_duplicates=${reader.provenanceDuplicates}${notes ? ` ${notes()}` : ''}`,
    duplicates: Math.max(result.duplicates, reader.provenanceDuplicates),
    ...(terminator.midCommit < Math.min(3, kills)
      ? { error: `only ${terminator.midCommit} terminations mid-commit` }
      : {}),
  };
}

/** The sink options every PostgreSQL scenario uses: its own slow-commit watermark table. */
export function sinkOptions(table, mode, columns) {
  return { ...postgres, table, mode, watermarkTable: `${table}_watermarks`, lockTimeoutMs: 5_000, columns };
}
