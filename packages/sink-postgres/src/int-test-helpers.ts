/** Helpers of the integration tests: the local server, unique names, records, a COMMIT-cutting proxy. */
import net from 'node:net';
import { type SinkRecord, TidemarkError } from '@tidemark/sdk';
import pg from 'pg';
import { expect } from 'vitest';

export const server = {
  host: process.env.PGHOST ?? '127.0.0.1',
  port: Number(process.env.PGPORT ?? 5432),
  database: process.env.PGDATABASE ?? 'test',
  user: process.env.PGUSER ?? 'postgres',
};

export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
}

/** Runs one statement on a connection of its own. */
export async function sql<Row = Record<string, unknown>>(
  text: string,
  values: unknown[] = [],
): Promise<Row[]> {
  const client = new pg.Client(server);
  await client.connect();
  try {
    return (await client.query(text, values)).rows as Row[];
  } finally {
    await client.end();
  }
}

/** A file-source-like record whose value is `value` as JSON. */
export function testRecord(value: unknown, line: number, extra: Partial<SinkRecord> = {}): SinkRecord {
  return {
    key: Buffer.from(`k${line}`),
    value: Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
    headers: {},
    rowtime: 1_700_000_000_000 + line,
    provenance: { 'file.path': '/data/in.jsonl', 'file.line': line, 'file.position': line * 10 },
    position: { unit: '/data/in.jsonl', next: line * 10 },
    ...extra,
  };
}

/**
 * A loopback proxy to the server that, once `armCommit(mode)` was called, breaks the next
 * COMMIT a client sends: `before` drops it and cuts the connection (nothing commits), `after`
 * forwards it, waits for the server to act on it, then cuts before the reply arrives.
 */
export class CommitCutProxy {
  #server: net.Server | undefined;
  #armed: 'before' | 'after' | null = null;
  readonly #sockets = new Set<net.Socket>();
  port = 0;
  cuts = 0;

  async start(): Promise<number> {
    this.#server = net.createServer((client) => this.#accept(client));
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.#server.address() as net.AddressInfo).port;
    return this.port;
  }

  armCommit(mode: 'before' | 'after'): void {
    this.#armed = mode;
  }

  #accept(client: net.Socket): void {
    const upstream = net.connect(server.port, server.host);
    this.#sockets.add(client);
    this.#sockets.add(upstream);
    const cut = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', cut);
    upstream.on('error', cut);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    let holdReplies = false;
    upstream.on('data', (chunk: Buffer) => {
      if (!holdReplies) client.write(chunk);
    });
    client.on('data', (chunk: Buffer) => {
      const mode = this.#armed;
      if (mode && chunk.includes('COMMIT\u0000')) {
        this.#armed = null;
        this.cuts += 1;
        if (mode === 'before') {
          cut();
          return;
        }
        holdReplies = true;
        upstream.write(chunk);
        setTimeout(cut, 300);
        return;
      }
      upstream.write(chunk);
    });
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()) ?? resolve());
  }
}

/** Awaits `promise`, expects a TidemarkError with `code`, and returns it. */
export async function expectCode(promise: Promise<unknown>, code: string): Promise<TidemarkError> {
  try {
    await promise;
  } catch (error) {
    expect(TidemarkError.hasCode(error, code as never), String(error)).toBe(true);
    return error as TidemarkError;
  }
  throw new Error(`expected ${code}, got success`);
}
