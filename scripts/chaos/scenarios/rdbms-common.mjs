// Shared by the rdbms-kafka (PostgreSQL) and mysql-kafka (MariaDB) chaos scenarios: concurrent
// writers on one table, some transactions held open for seconds and committed late (their rows
// have lower ids than rows committed meanwhile), updates that make new row versions, rollbacks;
// a pipeline SIGKILLed at random; then a read_committed check of what the sink holds.
//
// What "exactly once" means for a polled table (and what verifyVersions checks):
// - every committed version of a row that the sink holds, it holds once (no duplicate
//   (row, version) pair, and nothing that was never committed, e.g. rolled back);
// - the latest committed version of every row is in the sink (nothing lost);
// - the versions of one row arrive in increasing order.
// A version overwritten before the source polled it may be absent: polling reads rows, not a
// change log. The scenario counts those as `intermediate_skipped`, not as lost.

import {
  brokers,
  CommittedReader,
  createTopic,
  killLoop,
  PipelineProcess,
  random,
  sleep,
  uniqueName,
} from '../harness.mjs';

export const COMMIT = { maxWallMs: 300, maxRecords: 2_000 };

/**
 * Writers on one table. `database` is the dialect's adapter:
 *   connect() → session; begin(session); insert(session, rows); update(session, rowKeys);
 *   commit(session); rollback(session); end(session).
 * A row is `{ row_key, writer, seq, version, payload }`; each writer updates only its own rows,
 * so it knows the version each of its updates commits.
 */
export class RowWriters {
  constructor(database, { writers = 5, seed, holdMs = [1_000, 4_000] }) {
    this.database = database;
    this.rng = random(seed);
    this.writerCount = writers;
    this.holdMs = holdMs;
    this.committed = new Map();
    this.stats = { held: 0, updates: 0, rollbacks: 0, transactions: 0 };
    this.running = false;
  }

  start() {
    this.running = true;
    this.done = Promise.all(Array.from({ length: this.writerCount }, (_, writer) => this.#writer(writer)));
  }

  async #writer(writer) {
    const session = await this.database.connect();
    const own = new Map();
    let seq = 0;
    try {
      while (this.running) {
        const held = this.rng() < 0.15;
        const pending = [];
        await this.database.begin(session);
        const inserts = [];
        for (let index = this.rng.between(1, 5); index > 0; index -= 1) {
          seq += 1;
          inserts.push({ row_key: `w${writer}-${seq}`, writer, seq, version: 0, payload: `p${seq}` });
        }
        await this.database.insert(session, inserts);
        for (const row of inserts) pending.push([row.row_key, 0]);
        if (own.size > 0 && this.rng() < 0.4) {
          const keys = [...own.keys()];
          const chosen = new Set();
          for (let index = this.rng.between(1, 3); index > 0; index -= 1)
            chosen.add(keys[this.rng.between(0, keys.length - 1)]);
          await this.database.update(session, [...chosen]);
          for (const key of chosen) pending.push([key, own.get(key) + 1]);
          this.stats.updates += chosen.size;
        }
        if (held) {
          this.stats.held += 1;
          await sleep(this.rng.between(this.holdMs[0], this.holdMs[1]));
        }
        if (this.rng() < 0.05) {
          await this.database.rollback(session);
          this.stats.rollbacks += 1;
        } else {
          await this.database.commit(session);
          this.stats.transactions += 1;
          for (const [key, version] of pending) {
            own.set(key, version);
            if (!this.committed.has(key)) this.committed.set(key, new Set());
            this.committed.get(key).add(version);
          }
        }
        await sleep(this.rng.between(5, 40));
      }
    } finally {
      await this.database.end(session);
    }
  }

  async stop() {
    this.running = false;
    await this.done;
  }

  /** Latest committed version per row. */
  finals() {
    const finals = new Map();
    for (const [key, versions] of this.committed) finals.set(key, Math.max(...versions));
    return finals;
  }
}

/** Checks the sink's rows against the committed versions (see the header for the claim). */
export function verifyVersions(committed, finals, sinkRows) {
  const counts = new Map();
  const order = new Map();
  let disorder = 0;
  for (const row of sinkRows) {
    const pair = `${row.row_key}@${row.version}`;
    const seen = counts.get(pair) ?? 0;
    counts.set(pair, seen + 1);
    if (seen > 0) continue;
    const previous = order.get(row.row_key);
    if (previous !== undefined && row.version <= previous) disorder += 1;
    order.set(row.row_key, row.version);
  }
  let duplicates = 0;
  let delivered = 0;
  for (const [pair, count] of counts) {
    const [key, version] = [
      pair.slice(0, pair.lastIndexOf('@')),
      Number(pair.slice(pair.lastIndexOf('@') + 1)),
    ];
    if (!committed.get(key)?.has(version)) duplicates += count;
    else {
      duplicates += count - 1;
      delivered += 1;
    }
  }
  let lost = 0;
  for (const [key, version] of finals) if (!counts.has(`${key}@${version}`)) lost += 1;
  let versions = 0;
  for (const set of committed.values()) versions += set.size;
  return {
    records: delivered,
    duplicates,
    lost,
    disorder,
    rows: finals.size,
    versions,
    intermediateSkipped: versions - delivered - lost,
  };
}

/**
 * The common run: writers start, the pipeline is SIGKILLed `kills` times while `disrupt`
 * (a database-side fault: terminate or cut the source's connection) runs every 1.5–3 s and at
 * least `minDisruptions` times; then writers stop, the sink catches up, and the check runs.
 */
export async function runRdbmsScenario({
  kills,
  seed,
  log,
  prefix,
  database,
  sourceOptions,
  disrupt,
  minDisruptions = 3,
}) {
  const rng = random(seed + 1);
  const sinkTopic = uniqueName(`${prefix}-out`);
  await createTopic(sinkTopic, 1);
  const reader = new CommittedReader(sinkTopic);
  await reader.start();
  const writers = new RowWriters(database, { seed });
  writers.start();
  const spec = {
    pipelineId: uniqueName(prefix),
    sources: [{ name: 'rows', package: '@tidemark/source-rdbms', options: sourceOptions }],
    sink: {
      package: '@tidemark/sink-kafka',
      options: { brokers, topic: sinkTopic, clientId: 'tidemark-chaos' },
    },
    commit: COMMIT,
  };
  let disruptions = 0;
  let disrupting = true;
  const disruptor = (async () => {
    while (disrupting || disruptions < minDisruptions) {
      await sleep(rng.between(1_500, 3_000));
      if (await disrupt()) disruptions += 1;
    }
  })();
  const current = await killLoop({ kills, rng, log, spawnPipeline: () => new PipelineProcess(spec, log) });
  disrupting = false;
  await disruptor;
  await writers.stop();
  const finals = writers.finals();
  log(`writers stopped: ${finals.size} rows; waiting for every latest version in the sink`);
  const deadline = Date.now() + 120_000;
  let lastReport = 0;
  while (Date.now() < deadline) {
    const present = new Set(reader.records.map((row) => `${row.row_key}@${row.version}`));
    const missing = [...finals].filter(([key, version]) => !present.has(`${key}@${version}`)).length;
    if (missing === 0) break;
    if (Date.now() - lastReport > 5_000) {
      lastReport = Date.now();
      log(`verifier: ${finals.size - missing}/${finals.size} latest versions committed`);
    }
    await sleep(250);
  }
  const code = await current.stop();
  if (code !== 0) log(`last pipeline exited with ${code}: ${current.stderrTail.slice(-5).join(' | ')}`);
  await sleep(1_500);
  await reader.stop();
  const result = verifyVersions(writers.committed, finals, reader.records);
  const { held, updates, rollbacks, transactions } = writers.stats;
  return {
    kills,
    records: result.records,
    duplicates: result.duplicates,
    lost: result.lost,
    disorder: result.disorder,
    notes: `rows=${result.rows} versions=${result.versions} intermediate_skipped=${result.intermediateSkipped} transactions=${transactions} held=${held} updates=${updates} rollbacks=${rollbacks} connection_faults=${disruptions}`,
  };
}
