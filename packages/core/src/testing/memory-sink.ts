/**
 * The one in-memory transactional sink: the runtime's own tests drive it with injected faults,
 * plugin tests use it through `@tidemark/sdk/testing`, and it passes `describeSinkConformance`.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { CommitUncertainError, FencedError, PoisonRecordError, TidemarkError } from '../errors.js';
import type { SinkRecord } from '../record.js';
import {
  type CommitPayload,
  type PipelineIdentity,
  type SinkCapabilities,
  type SinkState,
  SinkStateMachine,
  type TransactionalSink,
} from '../sink.js';
import { type CommittedState, EMPTY_COMMITTED_STATE } from '../watermark.js';

/**
 * A fault to inject into commit number `commitNumber` (1-based):
 * - `fail`: the commit fails before anything is stored (a retriable CONNECTION_FAILED);
 * - `uncertain-committed`: the commit is stored, then CommitUncertainError is thrown;
 * - `uncertain-lost`: nothing is stored, then CommitUncertainError is thrown.
 */
export type CommitFault = 'fail' | 'uncertain-committed' | 'uncertain-lost';

/**
 * What a memory sink has durably committed — records and committed state, changed together
 * only — plus the fencing epoch. Several sink instances over one store behave like several
 * processes over one broker: `open` and `recover` take a new epoch, and a call by an instance
 * holding an older one fails with FENCED. A commit in flight when a newer instance fences
 * completes first, as a transaction coordinator completes a prepared commit.
 */
export class MemorySinkStore {
  /** Every committed transaction, in commit order. */
  readonly transactions: MemoryCommittedTransaction[] = [];
  #state: CommittedState = EMPTY_COMMITTED_STATE;
  #epoch = 0;
  #prepared: { readonly records: readonly SinkRecord[]; readonly payload: CommitPayload } | null = null;
  readonly #now: () => number;

  /** `now` stamps commits (a fake clock in runtime tests). */
  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Every committed record, in commit order (dead-lettered ones included, with their route). */
  get records(): SinkRecord[] {
    return this.transactions.flatMap((transaction) => transaction.records);
  }

  get state(): CommittedState {
    return this.#state;
  }

  get epoch(): number {
    return this.#epoch;
  }

  /** Completes a commit in flight, then starts a new epoch (fencing every older one); returns it. */
  fence(): number {
    this.completePrepared();
    this.#epoch += 1;
    return this.#epoch;
  }

  /** Marks a commit as sent: it completes on {@link completePrepared} or the next {@link fence}. */
  prepare(records: readonly SinkRecord[], payload: CommitPayload): void {
    this.#prepared = { records, payload };
  }

  /** True while a commit sent by {@link prepare} has not completed. */
  get hasPrepared(): boolean {
    return this.#prepared !== null;
  }

  /** Applies the commit in flight, if any. */
  completePrepared(): void {
    const prepared = this.#prepared;
    this.#prepared = null;
    if (prepared) this.apply(prepared.records, prepared.payload);
  }

  /**
   * Stores `records` and `payload` in one step. Throws WATERMARK_INVALID when a numeric position
   * moves backwards: a runtime bug this fake refuses to hide.
   */
  apply(records: readonly SinkRecord[], payload: CommitPayload): void {
    for (const [source, watermark] of Object.entries(payload.watermarks)) {
      for (const [unit, position] of Object.entries(this.#state.watermarks[source] ?? {})) {
        const next = watermark[unit];
        if (typeof position === 'number' && (typeof next !== 'number' || next < position)) {
          throw new TidemarkError(
            'WATERMARK_INVALID',
            `sink: watermark of ${source}/${unit} moved backwards`,
          );
        }
      }
    }
    const at = this.#now();
    this.transactions.push({ records: [...records], payload: structuredClone(payload), at });
    this.#state = {
      watermarks: structuredClone(payload.watermarks),
      rowtime: payload.rowtime,
      committedAt: at,
    };
  }
}

/** One committed transaction of a {@link MemorySinkStore}. */
export interface MemoryCommittedTransaction {
  readonly records: readonly SinkRecord[];
  readonly payload: CommitPayload;
  /** When it committed (the store's clock). */
  readonly at: number;
}

/** Where a memory sink's injected faults can fire, see {@link MemorySinkOptions.faults}. */
export type SinkFaultPoint =
  | 'sink.open'
  | 'sink.begin'
  | 'sink.write'
  | 'sink.write.partial'
  | 'sink.commit'
  | 'sink.commit.uncertain.landed'
  | 'sink.commit.uncertain.lost'
  | 'sink.abort'
  | 'sink.recover';

/** A source of injected faults (the runtime's seeded FaultInjector is one). */
export interface SinkFaults {
  /** True when the fault at `point` fires now. */
  fires(point: SinkFaultPoint): boolean;
  /** The error a fault that fired throws. */
  error(point: SinkFaultPoint): TidemarkError;
  /** A fair coin: whether a commit that failed without saying so landed anyway. */
  coin(): boolean;
}

export interface MemorySinkOptions {
  /** Decides the fault (if any) of each commit attempt, numbered from 1. */
  readonly commitFault?: (commitNumber: number) => CommitFault | undefined;
  /** Shared with other instances to model several processes over one system; a private one by default. */
  readonly store?: MemorySinkStore;
  /**
   * Records the sink can never write: returns the reason, or undefined. Given, the sink has
   * `checkRecords` and `write` throws POISON_RECORD for such a record (as a real sink's encoder
   * would). Dead-lettered records are never rejected.
   */
  readonly rejectRecord?: (record: SinkRecord) => string | undefined;
  /** `capabilities.deadLetter`; default true. */
  readonly deadLetter?: boolean;
  /**
   * Faults fired at every step: open, begin, write (and half a batch written), commit (failing
   * without saying the outcome, half of them landed; uncertain, landed or lost), abort, recover.
   */
  readonly faults?: SinkFaults;
}

/** An in-memory {@link TransactionalSink} for plugin tests: a fake, but with the real state machine. */
export interface MemorySink extends TransactionalSink {
  /** Records of every committed transaction, in commit order. */
  readonly committedRecords: readonly SinkRecord[];
  /** The committed state `open`/`recover` return. */
  readonly committedState: CommittedState;
  /** Commit attempts so far, failed ones included. */
  readonly commitAttempts: number;
  /** The state of the sink's state machine. */
  readonly state: SinkState;
}

/**
 * Creates an in-memory transactional sink. Data and watermarks commit atomically; illegal
 * transitions throw ILLEGAL_STATE like a real sink; `open` fences older instances of the same
 * store. State survives `close` and a later `open`, as a broker would, so one sink can serve
 * several pipeline runs. It passes `describeSinkConformance`.
 */
export function createMemorySink(options: MemorySinkOptions = {}): MemorySink {
  return new MemoryTransactionalSink(options);
}

/**
 * The memory sink. Members are protected so the kit's own tests can derive deliberately
 * broken sinks from it and show the sink conformance suite catches them.
 */
export class MemoryTransactionalSink implements MemorySink {
  readonly capabilities: SinkCapabilities;
  protected readonly machine = new SinkStateMachine();
  protected readonly store: MemorySinkStore;
  protected readonly options: MemorySinkOptions;
  /** Every call, in order: `open`, `begin`, `write`, `commit`, `commit:uncertain`, … and `<call>:failed`. */
  readonly calls: string[] = [];
  /** Records written, all transactions together (aborted ones included). */
  recordsWritten = 0;
  protected epoch = 0;
  protected pending: SinkRecord[] = [];
  protected attempts = 0;

  constructor(options: MemorySinkOptions = {}) {
    this.options = options;
    this.store = options.store ?? new MemorySinkStore();
    this.capabilities = { transactional: true, deadLetter: options.deadLetter ?? true };
  }

  /** The records `rejectRecord` refuses, by index (none without it). */
  checkRecords(records: readonly SinkRecord[]): ReadonlyMap<number, PoisonRecordError> {
    const flagged = new Map<number, PoisonRecordError>();
    const reject = this.options.rejectRecord;
    if (!reject) return flagged;
    records.forEach((record, index) => {
      const error = rejection(record, reject);
      if (error) flagged.set(index, error);
    });
    return flagged;
  }

  get state(): SinkState {
    return this.machine.state;
  }

  get committedRecords(): readonly SinkRecord[] {
    return this.store.records;
  }

  get committedState(): CommittedState {
    return this.store.state;
  }

  get commitAttempts(): number {
    return this.attempts;
  }

  async open(_identity: PipelineIdentity): Promise<CommittedState> {
    this.machine.enter('open');
    this.epoch = this.store.fence();
    this.pending = [];
    this.fault('open', 'sink.open');
    this.machine.to('idle');
    this.calls.push('open');
    return this.store.state;
  }

  async readCommitted(_identity: PipelineIdentity): Promise<CommittedState> {
    return this.store.state;
  }

  async begin(): Promise<void> {
    this.machine.enter('begin');
    this.checkFenced('begin');
    this.fault('begin', 'sink.begin');
    this.pending = [];
    this.machine.to('transaction');
    this.calls.push('begin');
  }

  async write(records: readonly SinkRecord[]): Promise<void> {
    this.machine.enter('write');
    this.checkFenced('write');
    this.fault('write', 'sink.write');
    const faults = this.options.faults;
    if (faults?.fires('sink.write.partial')) {
      this.pending.push(...records.slice(0, Math.ceil(records.length / 2)));
      this.fail('write', faults.error('sink.write.partial'));
    }
    const reject = this.options.rejectRecord;
    for (const record of records) {
      const error = reject ? rejection(record, reject) : undefined;
      if (error) this.fail('write', error);
      this.pending.push(record);
    }
    this.recordsWritten += records.length;
    this.calls.push('write');
  }

  async commit(payload: CommitPayload): Promise<void> {
    this.machine.enter('commit');
    this.checkFenced('commit');
    this.attempts += 1;
    const records = this.pending;
    this.pending = [];
    const faults = this.options.faults;
    if (faults?.fires('sink.commit')) {
      // A failure that does not say the outcome is unknown, though it is: half of them landed.
      if (faults.coin()) this.store.apply(records, payload);
      this.fail('commit', faults.error('sink.commit'));
    }
    let fault = this.options.commitFault?.(this.attempts);
    if (fault === 'fail') {
      this.fail(
        'commit',
        new TidemarkError('CONNECTION_FAILED', `memory sink: injected failure of commit ${this.attempts}`),
      );
    }
    if (faults?.fires('sink.commit.uncertain.landed')) fault = 'uncertain-committed';
    else if (faults?.fires('sink.commit.uncertain.lost')) fault = 'uncertain-lost';
    if (fault === 'uncertain-committed' || fault === 'uncertain-lost') {
      if (fault === 'uncertain-committed') this.store.apply(records, payload);
      this.machine.to('uncertain');
      this.calls.push('commit:uncertain');
      throw new CommitUncertainError(`memory sink: injected ${fault} outcome of commit ${this.attempts}`);
    }
    // The commit travels for one turn of the event loop; a newer instance's fence meanwhile
    // completes it, as a coordinator completes a prepared commit.
    this.store.prepare(records, payload);
    await nextTurn();
    this.store.completePrepared();
    this.machine.to('idle');
    this.calls.push('commit');
  }

  async abort(): Promise<void> {
    this.machine.enter('abort');
    this.fault('abort', 'sink.abort');
    this.pending = [];
    this.machine.to('idle');
    this.calls.push('abort');
  }

  async recover(): Promise<CommittedState> {
    this.machine.enter('recover');
    this.checkFenced('recover');
    const faults = this.options.faults;
    if (faults?.fires('sink.recover')) {
      this.calls.push('recover:failed');
      throw faults.error('sink.recover');
    }
    this.epoch = this.store.fence();
    this.pending = [];
    this.machine.to('idle');
    this.calls.push('recover');
    return this.store.state;
  }

  async close(): Promise<void> {
    this.pending = [];
    this.machine.to('closed');
    this.calls.push('close');
  }

  /** Throws FENCED (and enters `failed`) when a newer instance took the store. */
  protected checkFenced(operation: string): void {
    if (this.epoch === this.store.epoch) return;
    this.fail(operation, new FencedError(`memory sink: ${operation}() by an instance a newer one fenced`));
  }

  /** Fails `operation` when the injected fault at `point` fires. */
  protected fault(operation: string, point: SinkFaultPoint): void {
    const faults = this.options.faults;
    if (faults?.fires(point)) this.fail(operation, faults.error(point));
  }

  /** Enters `failed`, logs `<operation>:failed` and throws `error`. */
  protected fail(operation: string, error: TidemarkError): never {
    this.machine.to('failed');
    this.calls.push(`${operation}:failed`);
    throw error;
  }
}

function rejection(
  record: SinkRecord,
  reject: (record: SinkRecord) => string | undefined,
): PoisonRecordError | undefined {
  if (record.route === 'dead-letter') return undefined;
  const reason = reject(record);
  if (reason === undefined) return undefined;
  return new PoisonRecordError(`memory sink: the record at ${record.position.unit} ${reason}`, {
    fix: 'Make the transform produce a record this sink accepts.',
    details: { unit: record.position.unit },
  });
}
