import {
  type Logger,
  type ReadOptions,
  type Source,
  type SourceBatch,
  type SourceCapabilities,
  TidemarkError,
  type TidemarkRecord,
  type Watermark,
} from '@tidemark/sdk';
import type { ResolvedRdbmsConfig } from './config.js';
import type { Dialect, DialectConnection, DialectRow } from './dialect.js';
import { encodePosition, positionIn, type RowPosition, unitOf } from './position.js';
import { RDBMS_PROVENANCE, rowRecord } from './provenance.js';

export const RDBMS_CAPABILITIES: SourceCapabilities = Object.freeze({
  replay: 'seek',
  exactlyOnce: true,
  bounded: false,
});

/** Progress of the initial backfill: rows below the horizon seen at open. */
interface Backfill {
  /** The horizon at open: the backfill is every row below it. */
  readonly end: string | null;
  readonly from: RowPosition | null;
  total: number | undefined;
  done: number;
  /** After a seek `done` is recounted on the next progress() call. */
  stale: boolean;
  finished: boolean;
}

/**
 * Polls one table (or query) in keyset order on (queryCol, tieBreakCol), reading only below the
 * dialect's safety horizon, in pages of `pageSize` rows. The watermark has one unit (the table
 * name, or `query`) whose position is the pair of the last row delivered.
 *
 * The runtime calls open → (read | seek | acknowledge)* → close, one at a time; `progress` may
 * run concurrently with them (it only reads counters and issues a count query). A lost
 * connection fails the current call with CONNECTION_FAILED (retriable); the next read
 * reconnects, and the runtime's seek repositions at the committed watermark first.
 */
export class RdbmsSource implements Source {
  readonly name: string;
  readonly provenance = RDBMS_PROVENANCE;
  readonly capabilities = RDBMS_CAPABILITIES;
  readonly #config: ResolvedRdbmsConfig;
  readonly #dialect: Dialect;
  readonly #logger: Logger;
  readonly #processSignal: AbortSignal;
  readonly #unit: string;
  readonly #table: string;
  #connection: DialectConnection | undefined;
  #connecting: Promise<DialectConnection> | undefined;
  #start: { position: RowPosition | null } | undefined;
  #delivered: RowPosition | null = null;
  #fetched: RowPosition | null = null;
  #buffer: DialectRow[] = [];
  #bufferIndex = 0;
  #horizon: string | null | undefined;
  #caughtUp = true;
  #ended = false;
  #backfill: Backfill | undefined;
  #wake: (() => void) | undefined;
  #closed = true;

  constructor(
    config: ResolvedRdbmsConfig,
    dialect: Dialect,
    name: string,
    logger: Logger,
    processSignal: AbortSignal,
  ) {
    this.name = name;
    this.#config = config;
    this.#dialect = dialect;
    this.#logger = logger;
    this.#processSignal = processSignal;
    this.#unit = unitOf(config.table);
    this.#table = config.table ?? name;
  }

  async open(watermark: Watermark | null): Promise<void> {
    this.#closed = false;
    const connection = await this.#ensureConnection();
    const committed = positionIn(watermark, this.#unit);
    try {
      if (committed === undefined && this.#start === undefined) {
        this.#start = { position: await this.#configuredStart(connection) };
      }
      const position = committed ?? this.#start?.position ?? null;
      this.#resetTo(position);
      const horizon = await connection.horizon();
      this.#horizon = horizon;
      this.#caughtUp = false;
      this.#backfill = {
        end: horizon,
        from: position,
        total: undefined,
        done: 0,
        stale: false,
        finished: false,
      };
      this.#logger.info(
        { unit: this.#unit, position: position && encodePosition(position), horizon },
        'rdbms source opened',
      );
    } catch (error) {
      await this.#dropConnection();
      throw this.#dialect.mapError(error, 'open');
    }
  }

  async #configuredStart(connection: DialectConnection): Promise<RowPosition | null> {
    const { startAfter, start } = this.#config;
    if (startAfter) return { queryValue: startAfter.queryCol, tieBreak: startAfter.tieBreak };
    if (start === 'latest') return connection.latestPosition(await connection.horizon());
    return null;
  }

  #resetTo(position: RowPosition | null): void {
    this.#delivered = position;
    this.#fetched = position;
    this.#buffer = [];
    this.#bufferIndex = 0;
    this.#caughtUp = true;
    this.#ended = false;
  }

  async read(options: ReadOptions): Promise<SourceBatch> {
    if (this.#closed) {
      throw new TidemarkError('NOT_CONNECTED', `rdbms source ${this.name} is not open`, {
        fix: 'The runtime opens the source before reading; this is a bug in the caller.',
      });
    }
    const deadline = Date.now() + options.maxWaitMs;
    while (true) {
      if (this.#bufferIndex < this.#buffer.length) return { records: this.#take(options) };
      if (this.#ended) return { records: [], end: true };
      if (options.signal.aborted || this.#processSignal.aborted || this.#closed) return { records: [] };
      const fetched = await this.#fetchPage();
      if (fetched > 0) continue;
      if (this.#config.stopAtEnd) {
        this.#ended = true;
        return { records: [], end: true };
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) return { records: [] };
      await this.#sleep(Math.min(this.#config.pollIntervalMs, remaining), options.signal);
    }
  }

  /** Fetches the next keyset page into the buffer; returns how many rows came. */
  async #fetchPage(): Promise<number> {
    const connection = await this.#ensureConnection();
    try {
      // The horizon is refreshed only once the rows below the last one are read, so a
      // backfill pages through a fixed set; with stopAtEnd it never moves.
      if (this.#horizon === undefined || (this.#caughtUp && !this.#config.stopAtEnd)) {
        this.#horizon = await connection.horizon();
      }
      const rows = await connection.readPage({
        after: this.#fetched,
        horizon: this.#horizon,
        limit: this.#config.pageSize,
      });
      this.#caughtUp = rows.length < this.#config.pageSize;
      this.#buffer = rows;
      this.#bufferIndex = 0;
      const last = rows.at(-1);
      if (last) this.#fetched = { queryValue: last.queryValue, tieBreak: last.tieBreakValue };
      if (this.#caughtUp && this.#backfill && !this.#backfill.finished) {
        this.#backfill.finished = true;
        this.#logger.info(
          { unit: this.#unit },
          'rdbms backfill complete: every row below the open horizon read',
        );
      }
      return rows.length;
    } catch (error) {
      const mapped = this.#dialect.mapError(error, 'read');
      if (mapped.retriable) {
        this.#logger.warn(
          { code: mapped.code, err: mapped.message },
          'rdbms connection dropped; reconnecting',
        );
        await this.#dropConnection();
      }
      throw mapped;
    }
  }

  #take(options: ReadOptions): TidemarkRecord[] {
    const records: TidemarkRecord[] = [];
    const rowtime = Date.now();
    let bytes = 0;
    while (
      this.#bufferIndex < this.#buffer.length &&
      records.length < options.maxRecords &&
      bytes < options.maxBytes
    ) {
      const row = this.#buffer[this.#bufferIndex]!;
      this.#bufferIndex += 1;
      const record = rowRecord(row, this.#table, this.#unit, rowtime);
      bytes += row.json.length + row.tieBreakValue.length;
      records.push(record);
      this.#delivered = { queryValue: row.queryValue, tieBreak: row.tieBreakValue };
    }
    if (this.#bufferIndex >= this.#buffer.length) {
      this.#buffer = [];
      this.#bufferIndex = 0;
    }
    if (this.#backfill && !this.#backfill.finished) this.#backfill.done += records.length;
    return records;
  }

  async seek(watermark: Watermark | null): Promise<void> {
    const position = positionIn(watermark, this.#unit) ?? this.#start?.position ?? null;
    this.#resetTo(position);
    if (this.#backfill && !this.#backfill.finished) this.#backfill.stale = true;
  }

  async acknowledge(_watermark: Watermark): Promise<void> {
    // Positions live in the sink's committed watermark; the database keeps nothing.
  }

  /**
   * Rows of the initial backfill (rows below the horizon seen at open) delivered so far, and
   * how many there are. Undefined once the backfill is complete (the source is caught up).
   */
  async progress(): Promise<{ done: number; total?: number } | undefined> {
    const backfill = this.#backfill;
    const connection = this.#connection;
    if (!backfill || backfill.finished) return undefined;
    if (connection && (backfill.total === undefined || backfill.stale)) {
      try {
        if (backfill.total === undefined)
          backfill.total = await connection.count(backfill.from, backfill.end);
        if (backfill.stale) {
          backfill.stale = false;
          const remaining = await connection.count(this.#delivered, backfill.end);
          backfill.done = Math.max(0, backfill.total - remaining);
        }
      } catch {
        // Progress is best effort: a failed count leaves the last known numbers.
      }
    }
    return backfill.total === undefined
      ? { done: backfill.done }
      : { done: Math.min(backfill.done, backfill.total), total: backfill.total };
  }

  /** Rows of the initial backfill not delivered yet (for the lag metric); undefined once caught up. */
  async lag(): Promise<number | undefined> {
    const progress = await this.progress();
    return progress?.total === undefined ? undefined : Math.max(0, progress.total - progress.done);
  }

  /** `latest`: after every row readable now; a time: before the first row at or after it (timestamp queryCol only). */
  async watermarkAt(target: { readonly latest: true } | { readonly time: number }): Promise<Watermark> {
    const connection = await this.#dialect.connect(this.#config);
    try {
      const position =
        'time' in target
          ? connection.positionAtTime(target.time)
          : await connection.latestPosition(await connection.horizon());
      return position === null ? {} : { [this.#unit]: encodePosition(position) };
    } finally {
      await connection.close();
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#wake?.();
    this.#buffer = [];
    this.#bufferIndex = 0;
    await this.#dropConnection();
  }

  async #ensureConnection(): Promise<DialectConnection> {
    if (this.#connection) return this.#connection;
    this.#connecting ??= this.#dialect.connect(this.#config).finally(() => {
      this.#connecting = undefined;
    });
    const connection = await this.#connecting;
    if (this.#closed) {
      await connection.close();
      throw new TidemarkError('NOT_CONNECTED', `rdbms source ${this.name} was closed while connecting`);
    }
    this.#connection = connection;
    return connection;
  }

  async #dropConnection(): Promise<void> {
    const connection = this.#connection;
    this.#connection = undefined;
    await connection?.close();
  }

  #sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.#processSignal.removeEventListener('abort', done);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      this.#processSignal.addEventListener('abort', done, { once: true });
      this.#wake = done;
    });
  }
}
