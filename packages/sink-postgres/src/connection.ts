/**
 * One `pg` connection of the sink: connected with a timeout and the sink's application_name,
 * its backend pid remembered (so `recover` can end a backend it lost contact with), and a
 * listener for errors the client emits while idle (without one, a dropped idle connection
 * would crash the process).
 */
import pg from 'pg';
import type { PostgresSinkConfig } from './config.js';

/** A connected client and the identity of its server backend. */
export interface SinkConnection {
  readonly client: pg.Client;
  backendPid: number;
  /** `backend_start` of that backend as text: with the pid, names it even after pid reuse. */
  backendStart: string;
  /** Set once the connection failed or ended; it is never used again. */
  broken: boolean;
}

/** Connects within `connectTimeoutMs` and sets the lock timeout. Throws what `pg` throws. */
export async function connect(config: PostgresSinkConfig, applicationName: string): Promise<SinkConnection> {
  const client = new pg.Client({
    host: config.host,
    port: config.port,
    database: config.database,
    user: config.user,
    ...(config.password === undefined ? {} : { password: config.password }),
    ssl: config.ssl,
    application_name: applicationName,
    connectionTimeoutMillis: config.connectTimeoutMs,
    keepAlive: true,
  });
  const connection: SinkConnection = { client, backendPid: 0, backendStart: '', broken: false };
  client.on('error', () => {
    connection.broken = true;
  });
  client.on('end', () => {
    connection.broken = true;
  });
  try {
    await client.connect();
    const result = await client.query(
      `SELECT pg_backend_pid() AS pid, backend_start::text AS started, set_config('lock_timeout', $1, false)
       FROM pg_stat_activity WHERE pid = pg_backend_pid()`,
      [`${config.lockTimeoutMs}ms`],
    );
    const row = result.rows[0] as { pid: number; started: string } | undefined;
    connection.backendPid = row?.pid ?? 0;
    connection.backendStart = row?.started ?? '';
    return connection;
  } catch (error) {
    await release(connection);
    throw error;
  }
}

/** Ends the connection; a connection that does not end within a second is destroyed. Never throws. */
export async function release(connection: SinkConnection | null): Promise<void> {
  if (!connection) return;
  connection.broken = true;
  const client = connection.client;
  let timer: NodeJS.Timeout | undefined;
  const ended = client.end().catch(() => undefined);
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, 1_000);
  });
  await Promise.race([ended, timeout]);
  clearTimeout(timer);
  destroySocket(client);
}

function destroySocket(client: pg.Client): void {
  const stream = (client as unknown as { connection?: { stream?: { destroy?: () => void } } }).connection
    ?.stream;
  stream?.destroy?.();
}

/**
 * From a fresh connection: terminates the backend `lost` names if it still runs (same pid and
 * start time), so the transaction it held ends now rather than when the server notices the dead
 * socket. Best effort: returns false when it could not (no privilege, already gone).
 */
export async function terminateLostBackend(client: pg.Client, lost: SinkConnection): Promise<boolean> {
  if (lost.backendPid === 0) return false;
  try {
    const result = await client.query(
      `SELECT pg_terminate_backend(pid, 5000) AS ended FROM pg_stat_activity
       WHERE pid = $1 AND backend_start::text = $2`,
      [lost.backendPid, lost.backendStart],
    );
    return (result.rows[0] as { ended?: boolean } | undefined)?.ended === true;
  } catch {
    return false;
  }
}
