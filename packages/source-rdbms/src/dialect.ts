import type { TidemarkError } from '@tidemark/sdk';
import type { DialectName, ResolvedRdbmsConfig } from './config.js';
import type { RowPosition } from './position.js';

/**
 * One row as a dialect hands it to the source: its position values as text (exactly what the
 * dialect parses back in a keyset predicate) and the whole row already encoded as a JSON object.
 */
export interface DialectRow {
  /** queryCol as text. */
  readonly queryValue: string;
  /** tieBreakCol as text. */
  readonly tieBreakValue: string;
  /** The row as JSON text: `{"column": value, …}`, values mapped without loss (see docs). */
  readonly json: string;
}

/** What one keyset page asks for. */
export interface PageRequest {
  /** Rows strictly after this position; null: from the first row. */
  readonly after: RowPosition | null;
  /** Only rows whose queryCol is below this (text of queryCol's type); null: no horizon. */
  readonly horizon: string | null;
  readonly limit: number;
}

/**
 * An open connection of one dialect, bound to the configured table or query. Calls never
 * overlap (the source awaits each one). Every method throws a TidemarkError: CONNECTION_FAILED
 * (retriable: the connection is unusable, close it and connect again), TIMEOUT, NOT_FOUND,
 * AUTH_FAILED or SCHEMA_MISMATCH.
 */
export interface DialectConnection {
  /**
   * The safety horizon: a queryCol value below which no transaction still in flight can add
   * or change a row. Null when `horizon: none`. Never moves backwards on one server.
   */
  horizon(): Promise<string | null>;
  /** Up to `limit` rows after `after` and below `horizon`, ordered by (queryCol, tieBreakCol). */
  readPage(request: PageRequest): Promise<DialectRow[]>;
  /** How many rows a read from `after` to `horizon` would return (progress of a backfill). */
  count(after: RowPosition | null, horizon: string | null): Promise<number>;
  /** The position after every row readable now: where `start: latest` begins. */
  latestPosition(horizon: string | null): Promise<RowPosition | null>;
  /** The position before every row whose queryCol is at or after `time`, when queryCol is a time. */
  positionAtTime(time: number): RowPosition;
  /** Releases the connection. Idempotent, never throws. */
  close(): Promise<void>;
}

/** A SQL dialect. Stateless: everything stateful lives in the connections it opens. */
export interface Dialect {
  readonly name: DialectName;
  /**
   * Connects, checks the table or query and its columns (NOT_FOUND, SCHEMA_MISMATCH), and
   * returns a connection ready to read.
   */
  connect(config: ResolvedRdbmsConfig): Promise<DialectConnection>;
  /** The SQL that prepares a table for the in-flight horizon (column, trigger, index). */
  prepareStatements(config: ResolvedRdbmsConfig): string[];
  /** Runs `statements` in one session; errors mapped like `connect`. */
  execute(config: ResolvedRdbmsConfig, statements: readonly string[]): Promise<void>;
  /** Maps any client error to a TidemarkError with a fix (secrets never in the message). */
  mapError(error: unknown, action: string): TidemarkError;
}
