/**
 * Buffers encoded rows inside one transaction and sends them: multi-row INSERT (append),
 * INSERT … ON CONFLICT DO UPDATE (upsert), COPY FROM STDIN (copy), or one call of the user's
 * function with a JSON array (procedure). Everything is sent on the sink's one connection,
 * inside its open transaction; `flush` is awaited before the watermark is stored. Not safe for
 * concurrent use.
 *
 * COPY streams: the first rows of a transaction open one `COPY … FROM STDIN` that stays open
 * while the pipeline keeps reading, so the client encodes while the server loads; `flush` ends
 * it. No other statement may run on the connection meanwhile, so the sink flushes this writer
 * before any other writer sends (see `holdUntilFlush`).
 */
import type { Writable } from 'node:stream';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { copyLine, copyStatement, insertStatement, MAX_PARAMETERS } from './sql.js';

export type WriteMode = 'append' | 'upsert' | 'copy';

/** Where rows go: a table with columns (and a write mode), or a function taking a jsonb array. */
export type RowTarget =
  | {
      readonly kind: 'table';
      readonly table: string;
      readonly columns: readonly string[];
      readonly mode: WriteMode;
      readonly key: readonly string[];
    }
  | { readonly kind: 'procedure'; readonly procedure: string };

export interface RowWriterOptions {
  readonly insertBatchRows: number;
  /** Prefix of this writer's prepared statement names (unique per connection). */
  readonly statementName: string;
  /** Send nothing before `flush` (a writer that must not interleave with another's COPY). */
  readonly holdUntilFlush?: boolean;
}

/** COPY text handed to the stream at a time. */
const COPY_CHUNK_BYTES = 256 * 1024;

export class RowWriter {
  readonly #target: RowTarget;
  readonly #rowsPerStatement: number;
  readonly #statementName: string;
  readonly #hold: boolean;
  #rows: (string | null)[][] = [];
  #objects: unknown[] = [];
  #copyText = '';
  #copy: { stream: Writable; done: Promise<void> } | null = null;

  constructor(target: RowTarget, options: RowWriterOptions) {
    this.#target = target;
    this.#statementName = options.statementName;
    this.#hold = options.holdUntilFlush === true;
    const width = target.kind === 'table' ? Math.max(1, target.columns.length) : 1;
    this.#rowsPerStatement = Math.max(
      1,
      Math.min(options.insertBatchRows, Math.floor(MAX_PARAMETERS / width)),
    );
  }

  /** True while rows are buffered or a COPY is open: something still to send. */
  get pending(): number {
    return this.#rows.length + this.#objects.length + this.#copyText.length + (this.#copy ? 1 : 0);
  }

  /** Buffers one table row (text values in column order); sends when a statement's worth is buffered. */
  async addRow(client: pg.Client, values: (string | null)[]): Promise<void> {
    const target = this.#target as Extract<RowTarget, { kind: 'table' }>;
    if (target.mode === 'copy') {
      this.#copyText += copyLine(values);
      if (this.#copyText.length >= COPY_CHUNK_BYTES && !this.#hold) await this.#sendCopyChunk(client);
      return;
    }
    this.#rows.push(values);
    if (this.#rows.length >= this.#rowsPerStatement && !this.#hold) await this.#sendInserts(client, false);
  }

  /** Buffers one JSON object for the procedure. */
  async addObject(client: pg.Client, row: unknown): Promise<void> {
    this.#objects.push(row);
    if (this.#objects.length >= this.#rowsPerStatement * 10 && !this.#hold) await this.flush(client);
  }

  /** Sends everything buffered and ends a COPY in progress. */
  async flush(client: pg.Client): Promise<void> {
    const target = this.#target;
    if (target.kind === 'procedure') {
      if (this.#objects.length === 0) return;
      const batch = JSON.stringify(this.#objects);
      this.#objects = [];
      await client.query(`SELECT ${target.procedure}($1::jsonb)`, [batch]);
      return;
    }
    if (target.mode === 'copy') {
      if (this.#copyText.length > 0) await this.#sendCopyChunk(client);
      const copy = this.#copy;
      this.#copy = null;
      if (copy) {
        copy.stream.end();
        await copy.done;
      }
      return;
    }
    await this.#sendInserts(client, true);
  }

  /** Forgets everything buffered (abort, recover). A COPY in progress dies with its transaction. */
  clear(): void {
    this.#rows = [];
    this.#objects = [];
    this.#copyText = '';
    const copy = this.#copy;
    this.#copy = null;
    if (copy) {
      copy.done.catch(() => undefined);
      copy.stream.destroy();
    }
  }

  /** Writes the buffered COPY text into the open COPY (opening it first), waiting while the socket is full. */
  async #sendCopyChunk(client: pg.Client): Promise<void> {
    const target = this.#target as Extract<RowTarget, { kind: 'table' }>;
    if (!this.#copy) {
      const stream = client.query(copyFrom(copyStatement(target.table, target.columns)));
      const done = new Promise<void>((resolve, reject) => {
        stream.on('error', reject);
        stream.on('finish', () => resolve());
      });
      // A failure surfaces at the next write or at flush; never as an unhandled rejection.
      done.catch(() => undefined);
      this.#copy = { stream, done };
    }
    const { stream, done } = this.#copy;
    const text = this.#copyText;
    this.#copyText = '';
    if (!stream.write(text)) {
      await Promise.race([new Promise<void>((resolve) => stream.once('drain', resolve)), done]);
    }
    if (stream.destroyed || stream.errored) await done;
  }

  async #sendInserts(client: pg.Client, all: boolean): Promise<void> {
    const target = this.#target as Extract<RowTarget, { kind: 'table' }>;
    const key = target.mode === 'upsert' ? target.key : [];
    // One statement may not upsert a key twice: keep the last row of each key (a later row
    // overrides an earlier one anyway).
    if (key.length > 0)
      this.#rows = lastPerKey(
        this.#rows,
        key.map((column) => target.columns.indexOf(column)),
      );
    const size = this.#rowsPerStatement;
    let start = 0;
    while (this.#rows.length - start >= size || (all && start < this.#rows.length)) {
      const count = Math.min(size, this.#rows.length - start);
      const values: (string | null)[] = [];
      for (let index = start; index < start + count; index += 1) {
        for (const value of this.#rows[index]!) values.push(value);
      }
      const text = insertStatement(target.table, target.columns, count, key);
      // Full statements are prepared once per connection and reused.
      await client.query(
        count === size ? { name: `${this.#statementName}_${count}`, text, values } : { text, values },
      );
      start += count;
    }
    this.#rows = this.#rows.slice(start);
  }
}

function lastPerKey(rows: (string | null)[][], keyIndexes: readonly number[]): (string | null)[][] {
  const last = new Map<string, number>();
  for (let index = 0; index < rows.length; index += 1) {
    const row = rows[index]!;
    last.set(JSON.stringify(keyIndexes.map((column) => row[column])), index);
  }
  if (last.size === rows.length) return rows;
  const keep = new Set(last.values());
  return rows.filter((_, index) => keep.has(index));
}
