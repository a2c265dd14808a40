// Slightly over 400 lines: the example keeps schema, source and HTTP error mapping in one file
// so a plugin author reads it top to bottom.
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { setTimeout as delay } from 'node:timers/promises';
import {
  BackOffError,
  type ConnectorContext,
  defineSource,
  type JsonValue,
  type ReadOptions,
  type Source,
  type SourceBatch,
  TidemarkError,
  type TidemarkRecord,
  type Watermark,
  z,
} from '@tidemark/sdk';

export const httpLogConfigSchema = z
  .object({
    url: z
      .url({ protocol: /^https?$/ })
      .describe(
        'The log endpoint. GET <url>?after=<cursor>&limit=<n> must return { "items": [...], "next": "<cursor>" }.',
      ),
    pageSize: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(500)
      .describe('Items asked for per request (limit).'),
    pollIntervalMs: z
      .number()
      .int()
      .min(10)
      .max(60_000)
      .default(500)
      .describe('How long to wait before asking again when the log has nothing new (ms).'),
    requestTimeoutMs: z
      .number()
      .int()
      .min(100)
      .max(300_000)
      .default(10_000)
      .describe('Timeout of one HTTP request (ms).'),
    startCursor: z
      .string()
      .default('')
      .describe(
        'Cursor to start after when no watermark was committed; empty reads the log from its beginning.',
      ),
    idField: z
      .string()
      .min(1)
      .default('id')
      .describe('Item field that identifies an item; it becomes the record key.'),
    timeField: z
      .string()
      .min(1)
      .default('time')
      .describe('Item field holding the event time (epoch ms or ISO 8601); items without it get rowtime 0.'),
    token: z
      .string()
      .min(1)
      .meta({ secret: true })
      .describe('Bearer token sent in the Authorization header.')
      .optional(),
  })
  .strict();

export type HttpLogConfig = z.output<typeof httpLogConfigSchema>;

/**
 * A position in the log: after the item `skip` items past cursor `after`. Cursors are opaque to
 * the source, so this is what a watermark stores; `skip` is 0 at page ends.
 */
export interface LogPosition {
  readonly after: string;
  readonly skip: number;
}

interface Page {
  readonly items: readonly unknown[];
  readonly next: string;
}

interface BufferedItem {
  readonly item: unknown;
  readonly cursor: string;
  readonly index: number;
  readonly position: LogPosition;
}

const encoder = new TextEncoder();

/**
 * Reads an append-only JSON log over HTTP by cursor. One unit: the log URL. Exactly-once by
 * rewind: a position is a page cursor plus the number of items consumed after it, and reading
 * from a cursor is deterministic because the log only grows.
 *
 * Not safe for concurrent calls (the runtime never makes them). Errors: CONNECTION_FAILED
 * (retriable) when the server cannot be reached or answers 5xx; BackOffError on 429/503 with
 * Retry-After; CONFIG_INVALID on 400/401/403/404; INTERNAL for a malformed page.
 */
export class HttpLogSource implements Source {
  readonly name: string;
  readonly provenance = httpLogConnectorProvenance;
  readonly capabilities = httpLogCapabilities;
  readonly #config: HttpLogConfig;
  readonly #context: ConnectorContext;
  readonly #unit: string;
  #agent: HttpAgent | HttpsAgent | undefined;
  #closing: AbortController | undefined;
  #position: LogPosition;
  #buffer: BufferedItem[] = [];

  constructor(config: HttpLogConfig, context: ConnectorContext) {
    this.name = context.name;
    this.#config = config;
    this.#context = context;
    this.#unit = config.url;
    this.#position = { after: config.startCursor, skip: 0 };
  }

  async open(watermark: Watermark | null): Promise<void> {
    const secure = this.#config.url.startsWith('https:');
    this.#agent = secure
      ? new HttpsAgent({ keepAlive: true, maxSockets: 1 })
      : new HttpAgent({ keepAlive: true, maxSockets: 1 });
    this.#closing = new AbortController();
    this.#positionAt(watermark);
    // Fail fast on a wrong URL or token: one small request.
    await this.#fetchPage(this.#position.after, 1);
    this.#context.logger.info({ url: this.#unit, position: this.#position }, 'http log source opened');
  }

  async read(options: ReadOptions): Promise<SourceBatch> {
    this.#requireOpen();
    const deadline = Date.now() + options.maxWaitMs;
    while (this.#buffer.length === 0) {
      await this.#fill();
      if (this.#buffer.length > 0) break;
      const remaining = deadline - Date.now();
      if (remaining <= 0 || options.signal.aborted || this.#closing?.signal.aborted) return { records: [] };
      await sleep(Math.min(this.#config.pollIntervalMs, remaining), options.signal, this.#closing?.signal);
    }
    const taken = this.#buffer.splice(0, Math.max(1, options.maxRecords));
    const records = taken.map((entry) => this.#toRecord(entry));
    const last = taken.at(-1);
    if (last) this.#position = last.position;
    return { records };
  }

  async seek(watermark: Watermark | null): Promise<void> {
    this.#requireOpen();
    this.#positionAt(watermark);
  }

  async acknowledge(_watermark: Watermark): Promise<void> {
    // A seek source: the committed watermark needs no action at the server.
  }

  async close(): Promise<void> {
    this.#closing?.abort();
    this.#closing = undefined;
    this.#agent?.destroy();
    this.#agent = undefined;
    this.#buffer = [];
  }

  #requireOpen(): void {
    if (!this.#agent) {
      throw new TidemarkError('NOT_CONNECTED', `http log source ${this.name} is not open`);
    }
  }

  #positionAt(watermark: Watermark | null): void {
    this.#buffer = [];
    const stored = watermark?.[this.#unit];
    if (stored === undefined) {
      this.#position = { after: this.#config.startCursor, skip: 0 };
      return;
    }
    if (!isLogPosition(stored)) {
      throw new TidemarkError(
        'WATERMARK_INVALID',
        `http log source ${this.name}: watermark ${JSON.stringify(stored)} is not { after, skip }`,
        {
          fix: 'The committed watermark was not written by this source; reset the pipeline watermark deliberately.',
        },
      );
    }
    this.#position = { after: stored.after, skip: stored.skip };
  }

  /** Fetches the next page after the current position into the buffer (possibly nothing). */
  async #fill(): Promise<void> {
    let { after, skip } = this.#position;
    for (;;) {
      const page = await this.#fetchPage(after, this.#config.pageSize + skip);
      if (page.items.length <= skip) {
        if (page.next === after) return;
        skip -= page.items.length;
        after = page.next;
        this.#position = { after, skip };
        continue;
      }
      this.#buffer = page.items.slice(skip).map((item, offset) => {
        const index = skip + offset;
        const atEnd = index + 1 === page.items.length;
        return {
          item,
          cursor: after,
          index,
          position: atEnd ? { after: page.next, skip: 0 } : { after, skip: index + 1 },
        };
      });
      return;
    }
  }

  #toRecord(entry: BufferedItem): TidemarkRecord {
    const { item } = entry;
    const provenance = {
      'http.url': this.#unit,
      'http.cursor': entry.cursor,
      'http.index': entry.index,
      'http.id': '',
    };
    const position = { unit: this.#unit, next: entry.position as unknown as JsonValue };
    const base = { headers: {}, position };
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      return {
        ...base,
        key: null,
        value: encoder.encode(JSON.stringify(item)),
        rowtime: 0,
        provenance,
        poison: `log item at cursor ${entry.cursor} + ${entry.index} is not a JSON object`,
      };
    }
    const fields = item as Record<string, unknown>;
    const id = fields[this.#config.idField];
    const value = encoder.encode(JSON.stringify(item));
    if (typeof id !== 'string' && typeof id !== 'number') {
      return {
        ...base,
        key: null,
        value,
        rowtime: 0,
        provenance,
        poison: `log item at cursor ${entry.cursor} + ${entry.index} has no '${this.#config.idField}'`,
      };
    }
    return {
      ...base,
      key: encoder.encode(String(id)),
      value,
      rowtime: rowtimeOf(fields[this.#config.timeField]),
      provenance: { ...provenance, 'http.id': String(id) },
    };
  }

  async #fetchPage(after: string, limit: number): Promise<Page> {
    const url = new URL(this.#config.url);
    url.searchParams.set('after', after);
    url.searchParams.set('limit', String(limit));
    const { status, headers, body } = await this.#get(url);
    if (status === 429 || status === 503) {
      const retryAfter = Number(headers['retry-after']);
      throw new BackOffError(
        Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter * 1000 : this.#config.pollIntervalMs,
      );
    }
    if (status === 400 || status === 401 || status === 403 || status === 404) {
      throw new TidemarkError(
        'CONFIG_INVALID',
        `http log source ${this.name}: ${url.origin}${url.pathname} answered ${status}`,
        {
          fix:
            status === 401 || status === 403
              ? 'Check the token.'
              : 'Check the url: it must point at the log endpoint.',
          details: { status },
        },
      );
    }
    if (status !== 200) {
      throw new TidemarkError(
        'CONNECTION_FAILED',
        `http log source ${this.name}: server answered ${status}`,
        { details: { status } },
      );
    }
    let page: unknown;
    try {
      page = JSON.parse(body);
    } catch (cause) {
      throw new TidemarkError('INTERNAL', `http log source ${this.name}: the page is not JSON`, { cause });
    }
    const candidate = page as Partial<Page> | null;
    if (!candidate || !Array.isArray(candidate.items) || typeof candidate.next !== 'string') {
      throw new TidemarkError(
        'INTERNAL',
        `http log source ${this.name}: the page is not { items: [...], next: "<cursor>" }`,
        {
          fix: 'Point url at an endpoint that speaks the log protocol described in the README.',
        },
      );
    }
    return { items: candidate.items, next: candidate.next };
  }

  #get(
    url: URL,
  ): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
    const agent = this.#agent;
    const closing = this.#closing;
    if (!agent || !closing)
      return Promise.reject(new TidemarkError('NOT_CONNECTED', `http log source ${this.name} is not open`));
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const outgoing = request(
        url,
        {
          agent,
          method: 'GET',
          headers: {
            accept: 'application/json',
            ...(this.#config.token ? { authorization: `Bearer ${this.#config.token}` } : {}),
          },
          signal: AbortSignal.any([closing.signal, this.#context.signal]),
          timeout: this.#config.requestTimeoutMs,
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('error', (cause) => reject(connectionFailed(this.name, cause)));
          response.on('end', () =>
            resolve({
              status: response.statusCode ?? 0,
              headers: response.headers,
              body: Buffer.concat(chunks).toString('utf8'),
            }),
          );
        },
      );
      outgoing.on('timeout', () =>
        outgoing.destroy(
          new TidemarkError(
            'TIMEOUT',
            `http log source ${this.name}: no answer within ${this.#config.requestTimeoutMs} ms`,
          ),
        ),
      );
      outgoing.on('error', (cause) =>
        reject(TidemarkError.isInstance(cause) ? cause : connectionFailed(this.name, cause)),
      );
      outgoing.end();
    });
  }
}

function connectionFailed(name: string, cause: unknown): TidemarkError {
  return new TidemarkError(
    'CONNECTION_FAILED',
    `http log source ${name}: ${cause instanceof Error ? cause.message : String(cause)}`,
    {
      cause,
      fix: 'Check that the log server is running and reachable at the configured url.',
    },
  );
}

function isLogPosition(value: JsonValue): value is { after: string; skip: number } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const { after, skip } = value as Record<string, JsonValue>;
  return typeof after === 'string' && typeof skip === 'number' && Number.isSafeInteger(skip) && skip >= 0;
}

function rowtimeOf(value: unknown): number {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string') {
    const parsed = Date.parse(value);
    if (Number.isFinite(parsed)) return parsed;
  }
  return 0;
}

/** Waits `ms`, or less when any of `signals` aborts; never rejects. */
function sleep(ms: number, ...signals: (AbortSignal | undefined)[]): Promise<void> {
  const active = signals.filter((signal): signal is AbortSignal => signal !== undefined);
  return delay(ms, undefined, { signal: AbortSignal.any(active) }).catch(() => undefined);
}

const httpLogCapabilities = Object.freeze({ replay: 'seek', exactlyOnce: true, bounded: false } as const);

const httpLogConnectorProvenance = Object.freeze([
  { name: 'http.url', type: 'string', description: 'The log endpoint the record was read from.' },
  { name: 'http.cursor', type: 'string', description: 'Cursor of the page the record was read after.' },
  { name: 'http.index', type: 'integer', description: 'Index of the item after that cursor (0-based).' },
  { name: 'http.id', type: 'string', description: 'The item id (empty for a poison item without one).' },
] as const);

/** The connector: what `tidemark` loads for `type: http-log`. */
export const httpLogSource = defineSource({
  type: 'http-log',
  packageName: '@tidemark/example-custom-source',
  version: '0.1.0',
  description: 'Polls an append-only JSON log over HTTP by cursor; exactly-once by rewind.',
  configSchema: httpLogConfigSchema,
  capabilities: httpLogCapabilities,
  provenance: httpLogConnectorProvenance,
  create: (config, context) => new HttpLogSource(config, context),
});
