// Over 400 lines on purpose: the sink's contract methods (open, begin, write, commit, abort,
// recover, close) share one connection, the fencing token and the state machine; the SQL of the
// watermark table, the COPY/INSERT writers, the column mapping, the record encoder and the error
// translation are in their own modules.
import {
  type CommitPayload,
  type CommittedState,
  CommitUncertainError,
  EMPTY_COMMITTED_STATE,
  FencedError,
  type Logger,
  type PipelineIdentity,
  PoisonRecordError,
  type SinkCapabilities,
  type SinkRecord,
  type SinkState,
  SinkStateMachine,
  silentLogger,
  TidemarkError,
  type TransactionalSink,
} from '@tidemark/sdk';
import {
  identityLabel,
  type PostgresSinkConfig,
  type PostgresSinkConfigInput,
  parsePostgresSinkConfig,
  resolveApplicationName,
  resolveDeadLetterTable,
} from './config.js';
import { connect, release, type SinkConnection, terminateLostBackend } from './connection.js';
import { translatePgError } from './errors.js';
import { type ColumnMapping, compileMapping, declaredColumns, FieldReader } from './mapping.js';
import { RecordEncoder } from './record-encoder.js';
import type { RowWriter } from './row-writer.js';
import { createDeadLetterTable } from './table-schema.js';
import { prepareTarget } from './target.js';
import { encodeStoredWatermark } from './watermark-document.js';
import { type WatermarkRow, WatermarkTable } from './watermark-table.js';

export interface PostgresSinkOptions {
  readonly logger?: Logger;
}

/**
 * The PostgreSQL sink: each transaction writes the rows (table or procedure), the dead letters
 * and the pipeline's watermark row on one connection, in one database transaction.
 *
 * Calls are never concurrent (the runtime awaits each). Errors: CONNECTION_FAILED / TIMEOUT
 * (retriable) while connecting, writing or waiting for the watermark row's lock; FENCED (not
 * retriable, sticky: even `recover` refuses) once a newer instance bumped the epoch;
 * COMMIT_UNCERTAIN when COMMIT fails in any way (only `recover` and `close` are legal then:
 * `recover` learns the outcome from the watermark row on a new connection); SCHEMA_MISMATCH /
 * NOT_FOUND (not retriable) at open when the table does not fit the mapping, before anything is
 * written; POISON_RECORD for a record the columns refuse (see `checkRecords`) or a row the
 * database refuses at write time (a CHECK constraint, say: the transaction rolls back);
 * ILLEGAL_STATE for calls out of order.
 */
export class PostgresSink implements TransactionalSink {
  readonly capabilities: SinkCapabilities = Object.freeze({ transactional: true, deadLetter: true });
  readonly #config: PostgresSinkConfig;
  readonly #logger: Logger;
  readonly #machine = new SinkStateMachine();
  readonly #mappings: readonly ColumnMapping[];
  readonly #watermarks: WatermarkTable;
  readonly #deadLetterTable: string;

  #identity: PipelineIdentity | null = null;
  #connection: SinkConnection | null = null;
  #encoder: RecordEncoder | null = null;
  #main: RowWriter | null = null;
  #deadLetters: RowWriter | null = null;
  #epoch = 0;
  #sequence = 0;
  #committed: CommittedState = EMPTY_COMMITTED_STATE;
  #fenced: FencedError | null = null;
  #deadLetterTableExists = false;

  constructor(config: PostgresSinkConfig, options: PostgresSinkOptions = {}) {
    this.#config = config;
    this.#logger = (options.logger ?? silentLogger).child({
      sink: 'postgres',
      table: config.table ?? config.procedure,
    });
    this.#mappings = compileMapping(config.columns);
    this.#watermarks = new WatermarkTable(config.schema, config.watermarkTable);
    this.#deadLetterTable = resolveDeadLetterTable(config);
  }

  get state(): SinkState {
    return this.#machine.state;
  }

  /** The last committed state this sink knows (from open, recover or its own commits). */
  get committed(): CommittedState {
    return this.#committed;
  }

  /** The fencing epoch this instance holds (0 before open). */
  get epoch(): number {
    return this.#epoch;
  }

  /** The server pid of the sink's connection (0 when not connected), e.g. to find it in pg_stat_activity. */
  get backendPid(): number {
    return this.#connection?.backendPid ?? 0;
  }

  /**
   * Connects, creates the watermark table when missing (and the target table with
   * `createTable`), checks the table against the mapping — SCHEMA_MISMATCH before any
   * write — then fences: bumps the epoch of the pipeline's watermark row, waiting for an older
   * instance's commit in flight to end, and returns the committed state that row holds. Leaves
   * the sink closed on any failure.
   */
  async open(identity: PipelineIdentity): Promise<CommittedState> {
    this.#machine.enter('open');
    this.#identity = identity;
    this.#fenced = null;
    try {
      const connection = await connect(this.#config, resolveApplicationName(this.#config, identity));
      this.#connection = connection;
      await this.#prepareTables(connection);
      const row = await this.#watermarks.fence(connection.client, identity, this.#owner(connection));
      this.#epoch = row.epoch;
      this.#adopt(row);
    } catch (error) {
      await this.#release();
      throw translatePgError(error, 'open', this.#config);
    }
    this.#machine.to('idle');
    this.#logger.info(
      { epoch: this.#epoch, sequence: this.#sequence, backendPid: this.backendPid },
      'postgres sink opened',
    );
    return this.#committed;
  }

  /**
   * Reads the committed state of `identity` on a connection of its own, without fencing anyone.
   * Legal in any state; does not change it. A commit in flight is not seen until it commits.
   */
  async readCommitted(identity: PipelineIdentity): Promise<CommittedState> {
    let connection: SinkConnection | null = null;
    try {
      connection = await connect(this.#config, resolveApplicationName(this.#config, identity));
      const row = await this.#watermarks.read(connection.client, identity);
      return row?.stored?.state ?? EMPTY_COMMITTED_STATE;
    } catch (error) {
      throw translatePgError(error, 'readCommitted', this.#config);
    } finally {
      await release(connection);
    }
  }

  /** Starts a transaction. Only legal when idle. */
  async begin(): Promise<void> {
    this.#machine.enter('begin');
    if (this.#fenced) throw this.#fenced;
    try {
      await this.#client().query('BEGIN');
    } catch (error) {
      throw this.#failed(error, 'begin');
    }
    this.#machine.to('transaction');
  }

  /**
   * Checks each record against the column types read at open, without I/O: the map holds a
   * PoisonRecordError for each index whose record the table would refuse (a non-integer for an
   * integer column, too long for varchar(n), null for NOT NULL, a value that is not JSON while
   * JSON fields are mapped). Dead-lettered records are not checked. Before open, only what
   * the configuration declares is checked (a value that is not JSON while JSON fields are
   * mapped; the `type` given to a column).
   */
  checkRecords(records: readonly SinkRecord[]): ReadonlyMap<number, PoisonRecordError> {
    const problems = new Map<number, PoisonRecordError>();
    const encoder = this.#encoder ?? this.#declaredEncoder();
    for (let index = 0; index < records.length; index += 1) {
      const record = records[index]!;
      if (record.route === 'dead-letter') continue;
      const reason = encoder.check(record);
      if (reason !== undefined) problems.set(index, this.#poison(record, reason));
    }
    return problems;
  }

  /**
   * Sends `records` inside the open transaction (buffering up to a statement's worth; commit
   * sends the rest). A record the columns refuse throws POISON_RECORD and fails the transaction:
   * the runtime's poison stage, which calls `checkRecords` first, keeps such records out.
   */
  async write(records: readonly SinkRecord[]): Promise<void> {
    this.#machine.enter('write');
    const client = this.#client();
    const encoder = this.#encoder!;
    try {
      for (const record of records) {
        if (record.route === 'dead-letter') {
          await this.#deadLetters!.addRow(client, encoder.deadLetterRow(record));
          continue;
        }
        const encoded = encoder.encode(record);
        if (typeof encoded === 'string') throw this.#poison(record, encoded);
        if (encoded.kind === 'row') await this.#main!.addRow(client, encoded.values);
        else await this.#main!.addObject(client, encoded.object);
      }
    } catch (error) {
      throw this.#failed(error, 'write');
    }
  }

  /**
   * Sends what is buffered, stores the watermarks in the pipeline's row (only while it still
   * carries this instance's epoch, else FENCED), then COMMITs. Any failure of COMMIT itself
   * throws CommitUncertainError and enters `uncertain`: call `recover`, never `abort`.
   */
  async commit(payload: CommitPayload): Promise<void> {
    this.#machine.enter('commit');
    const client = this.#client();
    const identity = this.#identity!;
    const sequence = this.#sequence + 1;
    const createsDeadLetterTable = this.#deadLetters!.pending > 0 && !this.#deadLetterTableExists;
    const state: CommittedState = {
      watermarks: payload.watermarks,
      rowtime: payload.rowtime,
      committedAt: Date.now(),
    };
    try {
      await this.#main!.flush(client);
      if (createsDeadLetterTable) {
        // Created by the first dead letter, inside its transaction (a concurrent creator fails
        // this transaction once; the retry finds the table).
        await createDeadLetterTable(client, this.#config.schema, this.#deadLetterTable);
      }
      await this.#deadLetters!.flush(client);
      const document = encodeStoredWatermark({ identity, sequence, state });
      const stored = await this.#watermarks.store(
        client,
        identity,
        this.#epoch,
        sequence,
        document,
        payload.rowtime,
      );
      if (!stored) throw this.#fence();
    } catch (error) {
      throw this.#failed(error, 'commit');
    }
    try {
      await client.query('COMMIT');
    } catch (error) {
      const translated = translatePgError(error, 'commit', this.#config);
      this.#machine.to('uncertain');
      throw new CommitUncertainError(
        `postgres sink: the outcome of commit ${sequence} is unknown: ${translated.message}`,
        {
          cause: translated,
          fix: 'Nothing to do: the pipeline reads the watermark row on a new connection and resumes from what really committed.',
          details: { table: this.#watermarks.label, sequence },
        },
      );
    }
    this.#committed = state;
    this.#sequence = sequence;
    if (createsDeadLetterTable) this.#deadLetterTableExists = true;
    this.#machine.to('idle');
  }

  /** Rolls the open transaction back. After a failure it is best effort; a fenced sink throws FENCED. */
  async abort(): Promise<void> {
    this.#machine.enter('abort');
    const afterFailure = this.#machine.state === 'failed';
    this.#clearBuffers();
    if (this.#fenced) {
      await this.#rollbackQuietly();
      throw this.#fenced;
    }
    try {
      await this.#client().query('ROLLBACK');
    } catch (error) {
      // A connection that broke cannot roll back: only recover (a new connection) helps.
      if (!afterFailure || this.#connection?.broken !== false) throw this.#failed(error, 'abort');
      this.#logger.debug({ err: String(error) }, 'rollback after a failure failed');
    }
    this.#machine.to('idle');
  }

  /**
   * Discards the connection (its transaction, if the server still runs it, can no longer
   * commit: nobody will send COMMIT on it), connects anew, ends the lost backend if it still
   * runs, then locks the watermark row while it carries this instance's epoch — waiting for a
   * commit in flight to finish — and returns the committed state it holds. FENCED when a newer
   * instance bumped the epoch meanwhile.
   */
  async recover(): Promise<CommittedState> {
    this.#machine.enter('recover');
    if (this.#fenced) throw this.#fenced;
    this.#clearBuffers();
    const lost = this.#connection;
    this.#connection = null;
    await release(lost);
    try {
      const connection = await connect(this.#config, resolveApplicationName(this.#config, this.#identity!));
      this.#connection = connection;
      if (lost) await terminateLostBackend(connection.client, lost);
      const row = await this.#watermarks.reclaim(connection.client, this.#identity!, this.#epoch);
      if (!row) throw this.#fence();
      this.#adopt(row);
    } catch (error) {
      throw this.#failed(error, 'recover');
    }
    this.#machine.to('idle');
    this.#logger.info({ epoch: this.#epoch, sequence: this.#sequence }, 'postgres sink recovered');
    return this.#committed;
  }

  /** Rolls back an open transaction (best effort; never after an uncertain commit) and releases the connection. Idempotent. */
  async close(): Promise<void> {
    // A COPY in progress is cancelled first: the connection runs nothing else until it ends.
    this.#clearBuffers();
    if (this.#machine.state === 'transaction') await this.#rollbackQuietly();
    await this.#release();
    this.#machine.to('closed');
  }

  async #prepareTables(connection: SinkConnection): Promise<void> {
    await this.#watermarks.create(connection.client);
    const target = await prepareTarget(
      connection.client,
      this.#config,
      this.#mappings,
      this.#deadLetterTable,
      identityLabel(this.#identity!),
    );
    this.#main = target.main;
    this.#deadLetters = target.deadLetters;
    this.#encoder = target.encoder;
    this.#deadLetterTableExists = target.deadLetterTableExists;
  }

  #declaredEncoder(): RecordEncoder {
    const procedure = this.#config.table === undefined;
    const reader = new FieldReader({ pipeline: '' });
    return new RecordEncoder(
      reader,
      procedure ? [] : declaredColumns(this.#mappings),
      procedure ? this.#mappings : null,
      '',
    );
  }

  #adopt(row: WatermarkRow): void {
    this.#sequence = row.sequence;
    this.#committed = row.stored?.state ?? EMPTY_COMMITTED_STATE;
  }

  #owner(connection: SinkConnection): string {
    return `pid ${process.pid} backend ${connection.backendPid}`;
  }

  #client() {
    const connection = this.#connection;
    if (!connection) {
      throw new TidemarkError('NOT_CONNECTED', 'postgres sink: not connected', {
        fix: 'Open the sink first.',
      });
    }
    return connection.client;
  }

  #fence(): FencedError {
    this.#fenced = new FencedError(
      `postgres sink: pipeline ${identityLabel(this.#identity!)} was opened by a newer instance (epoch ${this.#epoch} is stale in ${this.#watermarks.label})`,
      { details: { table: this.#watermarks.label, epoch: this.#epoch } },
    );
    return this.#fenced;
  }

  #poison(record: SinkRecord, reason: string): PoisonRecordError {
    const target = this.#config.table ?? this.#config.procedure;
    return new PoisonRecordError(
      `postgres sink: ${target} refuses the record at ${record.position.unit}: ${reason}`,
      {
        fix: "Fix the record or the transform, change the column, or set the pipeline's poison policy to 'dead-letter' or 'skip'.",
        details: { unit: record.position.unit, next: record.position.next, provenance: record.provenance },
      },
    );
  }

  #failed(error: unknown, operation: string): TidemarkError {
    const translated = translatePgError(error, operation, this.#config);
    this.#machine.to('failed');
    return translated;
  }

  #clearBuffers(): void {
    this.#main?.clear();
    this.#deadLetters?.clear();
  }

  async #rollbackQuietly(): Promise<void> {
    const connection = this.#connection;
    if (!connection || connection.broken) return;
    await connection.client.query('ROLLBACK').catch((error: unknown) => {
      this.#logger.debug({ err: String(error) }, 'rollback on close failed');
    });
  }

  async #release(): Promise<void> {
    const connection = this.#connection;
    this.#connection = null;
    await release(connection);
  }
}

/** Creates an unopened PostgreSQL sink from options as written in YAML (validated here). */
export function createPostgresSink(
  config: PostgresSinkConfigInput,
  options: PostgresSinkOptions = {},
): PostgresSink {
  return new PostgresSink(parsePostgresSinkConfig(config), options);
}
