/**
 * The run lease of a pipeline kept in PostgreSQL (the optional `lease` hook of a sink
 * connector): `tidemark run` holds a session advisory lock keyed by the pipeline id while the
 * pipeline runs, and `tidemark watermarks reset` refuses while any session holds it. A crashed
 * holder's session ends with its process, and the lock with it.
 *
 * This is liveness only, for the operator's reset; exactly-once never depends on it (fencing
 * is the epoch of the watermark row).
 */
import { hostname } from 'node:os';
import { type ConnectorContext, TidemarkError } from '@tidemark/sdk';
import type { PostgresSinkConfig } from './config.js';
import { connect, release, type SinkConnection } from './connection.js';
import { translatePgError } from './errors.js';

const KEY = `hashtextextended('tidemark.lease:' || $1, 0)`;

/**
 * The run lease of one pipeline (structurally the SDK's RunLease): `acquire` connects and
 * takes the lock, `release` ends the connection. `release` may come while `acquire` still
 * waits; it then stops waiting and gives up the connection.
 */
export class PostgresRunLease {
  readonly #config: PostgresSinkConfig;
  readonly #pipelineId: string;
  #connection: SinkConnection | null = null;
  #held = false;
  #released = false;

  constructor(config: PostgresSinkConfig, pipelineId: string) {
    this.#config = config;
    this.#pipelineId = pipelineId;
  }

  /** True while the lock is held on a live connection. */
  get held(): boolean {
    return this.#held && !this.#released && this.#connection?.broken === false;
  }

  /** Takes the lease; resolves true once held, false when not held within `timeoutMs`. */
  async acquire(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    try {
      this.#connection ??= await connect(
        this.#config,
        `tidemark-lease:${hostname()}:${process.pid}`.slice(0, 63),
      );
      while (!this.#released) {
        const result = await this.#connection.client.query(`SELECT pg_try_advisory_lock(${KEY}) AS held`, [
          this.#pipelineId,
        ]);
        this.#held = (result.rows[0] as { held: boolean }).held;
        if (this.#held || Date.now() >= deadline) break;
        await new Promise((resolve) =>
          setTimeout(resolve, Math.min(500, Math.max(0, deadline - Date.now()))),
        );
      }
    } catch (error) {
      const releasedMeanwhile = this.#released;
      await this.release();
      if (releasedMeanwhile) return false;
      throw translatePgError(error, 'run lease', this.#config);
    }
    if (this.#released) await release(this.#connection);
    return this.held;
  }

  /** Gives the lease up at once (ends its connection). Idempotent. */
  async release(): Promise<void> {
    this.#released = true;
    this.#held = false;
    const connection = this.#connection;
    this.#connection = null;
    await release(connection);
  }
}

/** Throws ILLEGAL_STATE, naming the holders, while any session holds the lease of `pipelineId`. */
async function assertFree(
  config: PostgresSinkConfig,
  pipelineId: string,
  _context: ConnectorContext,
): Promise<void> {
  let connection: SinkConnection | null = null;
  let holders: { application_name: string; client_addr: string | null; pid: number }[];
  try {
    connection = await connect(config, 'tidemark-cli');
    const result = await connection.client.query(
      `WITH lease AS (SELECT ${KEY} AS key)
       SELECT a.application_name, a.client_addr::text AS client_addr, a.pid
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid, lease
       WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
         AND l.classid::bigint = ((lease.key >> 32) & 4294967295)
         AND l.objid::bigint = (lease.key & 4294967295)`,
      [pipelineId],
    );
    holders = result.rows as typeof holders;
  } catch (error) {
    throw translatePgError(error, 'run lease check', config);
  } finally {
    await release(connection);
  }
  if (holders.length === 0) return;
  const names = holders
    .map((holder) => {
      const [, host, pid] = holder.application_name.split(':');
      return host && pid
        ? `${host} (pid ${pid}, backend ${holder.pid})`
        : `${holder.application_name} (backend ${holder.pid})`;
    })
    .join('; ');
  throw new TidemarkError('ILLEGAL_STATE', `pipeline '${pipelineId}' is running: ${names}`, {
    retriable: false,
    fix: 'Stop it first (SIGTERM), then reset; a crashed process releases its lease as soon as its connection closes.',
  });
}

/** The `lease` hook of the PostgreSQL sink connector (structurally the SDK's RunLeaseHook). */
export const postgresRunLease = {
  /** The (not yet held) run lease of `pipelineId`. No I/O. */
  create(config: PostgresSinkConfig, pipelineId: string, _context: ConnectorContext): PostgresRunLease {
    return new PostgresRunLease(config, pipelineId);
  },
  assertFree,
};
