import { type PoisonRecordError, TidemarkError } from './errors.js';
import type { SinkRecord } from './record.js';
import type { CommittedState, PipelineWatermarks } from './watermark.js';

/** Identifies the pipeline (and task) a sink instance writes for; derives transactional ids. */
export interface PipelineIdentity {
  readonly pipelineId: string;
  /** Task number when a pipeline runs several tasks; undefined for one. */
  readonly taskId?: string;
}

/**
 * The one written form of an identity: `<pipelineId>` or `<pipelineId>/<taskId>`. Sinks use it
 * wherever they name the pipeline (headers, transactional ids, watermark keys).
 */
export function identityName(identity: PipelineIdentity): string {
  return identity.taskId === undefined ? identity.pipelineId : `${identity.pipelineId}/${identity.taskId}`;
}

/** What `commit` stores atomically with the data. */
export interface CommitPayload {
  readonly watermarks: PipelineWatermarks;
  /** Rowtime of the last committed row (epoch ms), or null. */
  readonly rowtime: number | null;
}

/** What a sink can do. Every field is required. */
export interface SinkCapabilities {
  /** True when data and watermarks commit in one atomic transaction. */
  readonly transactional: boolean;
  /** True when records with route `dead-letter` go to a dead-letter output in the same transaction. */
  readonly deadLetter: boolean;
}

/**
 * A sink that commits data and source watermarks atomically.
 *
 * State machine (illegal transitions throw ILLEGAL_STATE):
 * `closed --open--> idle --begin--> transaction --write*--> transaction --commit--> idle`,
 * `transaction --abort--> idle`; a commit whose outcome is unknown throws CommitUncertainError
 * and leaves the sink `uncertain`, from which only `recover` and `close` are legal. Any other
 * failure leaves it `failed`: `abort` (best effort), `recover` or `close`.
 * Calls are never concurrent.
 */
export interface TransactionalSink {
  readonly capabilities: SinkCapabilities;
  /**
   * Fences older instances of the same pipeline identity (resolving their open transaction)
   * and only then reads and returns the committed state.
   */
  open(identity: PipelineIdentity): Promise<CommittedState>;
  /**
   * Reads the committed state of `identity` without fencing anyone (for `tidemark watermarks
   * show`). Legal in any state; does not change the state. May see a commit still pending.
   */
  readCommitted(identity: PipelineIdentity): Promise<CommittedState>;
  begin(): Promise<void>;
  /** Writes records inside the open transaction (may buffer; commit flushes). */
  write(records: readonly SinkRecord[]): Promise<void>;
  /** Flushes, then commits the written records and `payload` atomically. */
  commit(payload: CommitPayload): Promise<void>;
  /** Aborts the open transaction. Never called after an uncertain commit. */
  abort(): Promise<void>;
  /**
   * After an uncertain commit or any failure: discards the client, creates a new one with
   * the same identity (which completes or aborts whatever was pending), and returns the
   * committed state read afresh. Leaves the sink `idle`.
   */
  recover(): Promise<CommittedState>;
  /** Aborts any open transaction and releases the client. Idempotent. */
  close(): Promise<void>;

  /**
   * Optional: the records of `records` (by index) this sink can never write, such as a value
   * that does not match the sink's value format. Pure: no I/O, legal in any state, also on an
   * unopened sink. The runtime calls it before a transaction's `write` and hands the flagged
   * records to the pipeline's poison policy (skip, dead-letter, fail), so they never reach
   * `write` on the main route. Records routed `dead-letter` are written as they are and should
   * not be flagged for the main output's format.
   */
  checkRecords?(records: readonly SinkRecord[]): ReadonlyMap<number, PoisonRecordError>;
}

export type SinkState = 'closed' | 'idle' | 'transaction' | 'uncertain' | 'failed';

const ALLOWED: Readonly<Record<string, readonly SinkState[]>> = {
  open: ['closed'],
  begin: ['idle'],
  write: ['transaction'],
  commit: ['transaction'],
  abort: ['transaction', 'failed'],
  recover: ['idle', 'transaction', 'uncertain', 'failed'],
};

/**
 * The sink state machine, for sink implementations to share. `enter(op)` checks that `op` is
 * legal now and throws a non-retriable ILLEGAL_STATE error if not.
 */
export class SinkStateMachine {
  #state: SinkState = 'closed';

  get state(): SinkState {
    return this.#state;
  }

  /** Throws ILLEGAL_STATE unless `operation` is allowed in the current state. */
  enter(operation: keyof typeof ALLOWED & string): void {
    const allowed = ALLOWED[operation];
    if (!allowed?.includes(this.#state)) {
      throw new TidemarkError(
        'ILLEGAL_STATE',
        `sink: ${operation}() is not allowed in state '${this.#state}'`,
        {
          details: { operation, state: this.#state },
        },
      );
    }
  }

  to(state: SinkState): void {
    this.#state = state;
  }
}
