import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One entry of the append-only log. `id` and `time` are always set; the rest is the payload. */
export interface LogItem {
  readonly id: string;
  /** Epoch milliseconds when the item was appended (or as given by the client). */
  readonly time: number;
  readonly [field: string]: unknown;
}

export interface LogServerOptions {
  /** Default 127.0.0.1 (loopback only). */
  readonly host?: string;
  /** Default 0: a random free port. */
  readonly port?: number;
  /** JSON-lines file that keeps the log across restarts; appended to, loaded on start. */
  readonly dataFile?: string;
  /** Largest page `GET /log` returns, whatever `limit` asks. Default 1000. */
  readonly maxPageSize?: number;
}

/** A running append-only log server. */
export interface LogServer {
  /** The log endpoint: `GET {url}?after=<cursor>&limit=<n>`. */
  readonly url: string;
  /** `POST {appendUrl}` with `{ "items": [...] }`, an array, or one object. */
  readonly appendUrl: string;
  readonly items: readonly LogItem[];
  /** Appends `count` items `{ id: '<prefix><n>', seq: n }` and returns their ids. */
  appendGenerated(count: number, prefix?: string): string[];
  /** Appends items (given ids are kept, missing ones are generated); returns their ids. */
  append(items: readonly Record<string, unknown>[]): string[];
  /** Answers the next `count` log requests with `status` (and `headers`) instead of data. */
  failNext(count: number, status: number, headers?: Record<string, string>): void;
  /** Requests served so far on `GET /log`. */
  readonly requests: number;
  /** Stops listening and drops open connections. */
  close(): Promise<void>;
}

/**
 * Starts an append-only log over HTTP: the protocol the example source reads.
 *
 * - `GET /log?after=<cursor>&limit=<n>` → `200 { "items": [...], "next": "<cursor>" }`, the items
 *   after `cursor` (empty or absent: from the start) in append order. `next` is the cursor after
 *   the last item returned (equal to `after` when nothing is new). Cursors are decimal strings
 *   here, but clients must treat them as opaque.
 * - `POST /append` → `200 { "ids": [...], "next": "<cursor>" }`.
 * - `GET /health` → `200 { "items": <count> }`.
 */
export async function startLogServer(options: LogServerOptions = {}): Promise<LogServer> {
  const items: LogItem[] = [];
  const maxPageSize = options.maxPageSize ?? 1000;
  let generated = 0;
  let requests = 0;
  const faults: { status: number; headers: Record<string, string> }[] = [];

  if (options.dataFile && existsSync(options.dataFile)) {
    for (const line of readFileSync(options.dataFile, 'utf8').split('\n')) {
      if (line.trim() !== '') items.push(JSON.parse(line) as LogItem);
    }
    generated = items.length;
  }

  const append = (incoming: readonly Record<string, unknown>[]): string[] => {
    const ids: string[] = [];
    for (const fields of incoming) {
      generated += 1;
      const item: LogItem = {
        ...fields,
        id: typeof fields.id === 'string' ? fields.id : `item-${generated}`,
        time: typeof fields.time === 'number' ? fields.time : Date.now(),
      };
      if (options.dataFile) appendFileSync(options.dataFile, `${JSON.stringify(item)}\n`);
      items.push(item);
      ids.push(item.id);
    }
    return ids;
  };

  const send = (
    response: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ) => {
    response.writeHead(status, { 'content-type': 'application/json', ...headers });
    response.end(JSON.stringify(body));
  };

  const readBody = async (request: IncomingMessage): Promise<unknown> => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    return text === '' ? {} : JSON.parse(text);
  };

  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (request.method === 'GET' && url.pathname === '/log') {
      requests += 1;
      const fault = faults.shift();
      if (fault) return send(response, fault.status, { error: `injected ${fault.status}` }, fault.headers);
      const afterText = url.searchParams.get('after') ?? '';
      const after = afterText === '' ? 0 : Number(afterText);
      const limit = Math.min(maxPageSize, Number(url.searchParams.get('limit') ?? maxPageSize));
      if (!Number.isSafeInteger(after) || after < 0 || after > items.length || !(limit > 0)) {
        return send(response, 400, {
          error: `bad cursor or limit: after=${afterText} limit=${String(limit)}`,
        });
      }
      const page = items.slice(after, after + limit);
      return send(response, 200, { items: page, next: String(after + page.length) });
    }
    if (request.method === 'POST' && url.pathname === '/append') {
      readBody(request).then(
        (body) => {
          const list = Array.isArray(body)
            ? body
            : typeof body === 'object' && body !== null && Array.isArray((body as { items?: unknown }).items)
              ? (body as { items: unknown[] }).items
              : [body];
          const objects = list.filter(
            (entry): entry is Record<string, unknown> => typeof entry === 'object' && entry !== null,
          );
          if (objects.length !== list.length)
            return send(response, 400, { error: 'items must be JSON objects' });
          const ids = append(objects);
          send(response, 200, { ids, next: String(items.length) });
        },
        (error: unknown) => send(response, 400, { error: `body is not JSON: ${String(error)}` }),
      );
      return;
    }
    if (request.method === 'GET' && url.pathname === '/health')
      return send(response, 200, { items: items.length });
    send(response, 404, { error: `no route ${request.method} ${url.pathname}` });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const base = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;

  return {
    url: `${base}/log`,
    appendUrl: `${base}/append`,
    items,
    get requests() {
      return requests;
    },
    append,
    appendGenerated(count, prefix = 'item-') {
      const batch: Record<string, unknown>[] = [];
      for (let index = 0; index < count; index += 1) {
        batch.push({ id: `${prefix}${items.length + index}`, seq: items.length + index });
      }
      return append(batch);
    },
    failNext(count, status, headers = {}) {
      for (let index = 0; index < count; index += 1) faults.push({ status, headers });
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
