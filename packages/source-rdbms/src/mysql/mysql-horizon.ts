import { randomUUID } from 'node:crypto';

/**
 * The in-flight horizon of MySQL / MariaDB, over a queryCol that the server stamps with the
 * start time of the writing statement (TIMESTAMP(6) DEFAULT / ON UPDATE CURRENT_TIMESTAMP(6)).
 *
 * horizon = the oldest of
 *   - now − horizonLagMs;
 *   - start of the oldest open InnoDB transaction (information_schema.innodb_trx) − 1 s: its
 *     `trx_started` has whole seconds, and a transaction's first statement may start (and stamp
 *     its rows) slightly before InnoDB registers the transaction;
 *   - start of the oldest running statement (information_schema.processlist) − 1 s: covers a
 *     statement that has stamped rows but is not yet listed as a transaction.
 * Any row a transaction still in flight writes is stamped at or after its first statement's
 * start, so it lands at or above the horizon; rows below it are final.
 *
 * innodb_trx is served from a cache that InnoDB refreshes only when the previous read of it is
 * more than 0.1 s old: a reader polling faster (this source, or any other client) would read a
 * frozen list that misses new transactions. So each computation runs inside its own
 * `START TRANSACTION WITH CONSISTENT SNAPSHOT` and checks that the list includes that very
 * transaction with that very statement (a nonce in a comment): only a list refreshed during the
 * statement does. A stale list is retried after 120 ms; when it stays stale the previous
 * horizon is kept (reading stalls, nothing is skipped). Reads are spaced ≥ 120 ms apart.
 */
export const MINIMUM_HORIZON_INTERVAL_MS = 120;
const STALE_RETRIES = 8;
/** Below every TIMESTAMP value: reads nothing. */
export const LOWEST_HORIZON = '1970-01-01 00:00:00.000000';

/** Runs one SQL statement on the horizon's session, rows as arrays. */
export type RunSql = (sql: string, values: unknown[]) => Promise<unknown[][]>;

export function horizonSql(nonce: string, statementStart: string): string {
  return `SELECT /* tidemark-horizon ${nonce} */
    MAX(t.trx_mysql_thread_id = CONNECTION_ID() AND t.trx_query LIKE '%tidemark-horizon ${nonce}%') AS fresh,
    DATE_FORMAT(LEAST(
      UTC_TIMESTAMP(6) - INTERVAL ? MICROSECOND,
      COALESCE(MIN(IF(t.trx_mysql_thread_id = CONNECTION_ID(), NULL, CONVERT_TZ(t.trx_started, 'SYSTEM', '+00:00')))
               - INTERVAL 1 SECOND, UTC_TIMESTAMP(6)),
      COALESCE((SELECT MIN(${statementStart}) FROM information_schema.processlist
                WHERE command IN ('Query', 'Execute') AND id <> CONNECTION_ID()) - INTERVAL 1 SECOND, UTC_TIMESTAMP(6))
    ), '%Y-%m-%d %H:%i:%s.%f') AS horizon
    FROM information_schema.innodb_trx AS t`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Computes horizons on one session; calls must not overlap. */
export class MysqlHorizon {
  readonly #statementStart: string;
  readonly #lagMs: number;
  #last: string | undefined;
  #lastReadAt = 0;
  /** How many computations found the list stale and kept the previous horizon. */
  stalled = 0;

  constructor(statementStart: string, lagMs: number) {
    this.#statementStart = statementStart;
    this.#lagMs = lagMs;
  }

  async compute(run: RunSql): Promise<string> {
    for (let attempt = 0; attempt < STALE_RETRIES; attempt += 1) {
      const wait = this.#lastReadAt + MINIMUM_HORIZON_INTERVAL_MS - Date.now();
      if (wait > 0) await sleep(wait);
      const nonce = randomUUID().replaceAll('-', '');
      await run('START TRANSACTION WITH CONSISTENT SNAPSHOT', []);
      let row: unknown[] | undefined;
      try {
        row = (await run(horizonSql(nonce, this.#statementStart), [this.#lagMs * 1000]))[0];
      } finally {
        this.#lastReadAt = Date.now();
        await run('COMMIT', []);
      }
      if (Number(row?.[0]) === 1 && typeof row?.[1] === 'string') {
        // Never move back: a horizon stays valid once computed (see above).
        if (this.#last === undefined || row[1] > this.#last) this.#last = row[1];
        return this.#last;
      }
    }
    this.stalled += 1;
    return this.#last ?? LOWEST_HORIZON;
  }
}
