import {
  type CommitPayload,
  type CommittedState,
  CommitUncertainError,
  EMPTY_COMMITTED_STATE,
  type PipelineIdentity,
  type SinkCapabilities,
  type SinkRecord,
  SinkStateMachine,
  TidemarkError,
  type TransactionalSink,
} from '@tidemark/core';

/**
 * A fault to inject into commit number `commitNumber` (1-based):
 * - `fail`: the commit fails before anything is stored (a retriable CONNECTION_FAILED);
 * - `uncertain-committed`: the commit is stored, then CommitUncertainError is thrown;
 * - `uncertain-lost`: nothing is stored, then CommitUncertainError is thrown.
 */
export type CommitFault = 'fail' | 'uncertain-committed' | 'uncertain-lost';

export interface MemorySinkOptions {
  /** Decides the fault (if any) of each commit attempt, numbered from 1. */
  readonly commitFault?: (commitNumber: number) => CommitFault | undefined;
}

/** An in-memory {@link TransactionalSink} for plugin tests: a fake, but with the real state machine. */
export interface MemorySink extends TransactionalSink {
  /** Records of every committed transaction, in commit order. */
  readonly committedRecords: readonly SinkRecord[];
  /** The committed state `open`/`recover` return. */
  readonly committedState: CommittedState;
  /** Commit attempts so far, failed ones included. */
  readonly commitAttempts: number;
}

/**
 * Creates an in-memory transactional sink. Data and watermarks commit atomically (one array
 * swap); illegal transitions throw ILLEGAL_STATE like a real sink. State survives `close` and a
 * later `open`, as a broker would, so one sink can serve several pipeline runs.
 */
export function createMemorySink(options: MemorySinkOptions = {}): MemorySink {
  const machine = new SinkStateMachine();
  let committed: SinkRecord[] = [];
  let state: CommittedState = EMPTY_COMMITTED_STATE;
  let pending: SinkRecord[] = [];
  let attempts = 0;
  const capabilities: SinkCapabilities = { transactional: true, deadLetter: true };

  const apply = (payload: CommitPayload): void => {
    committed = [...committed, ...pending];
    state = { watermarks: payload.watermarks, rowtime: payload.rowtime, committedAt: Date.now() };
  };

  return {
    capabilities,
    get committedRecords() {
      return committed;
    },
    get committedState() {
      return state;
    },
    get commitAttempts() {
      return attempts;
    },
    async open(_identity: PipelineIdentity) {
      machine.enter('open');
      machine.to('idle');
      return state;
    },
    async readCommitted() {
      return state;
    },
    async begin() {
      machine.enter('begin');
      pending = [];
      machine.to('transaction');
    },
    async write(records) {
      machine.enter('write');
      pending.push(...records);
    },
    async commit(payload) {
      machine.enter('commit');
      attempts += 1;
      const fault = options.commitFault?.(attempts);
      if (fault === 'fail') {
        machine.to('failed');
        throw new TidemarkError('CONNECTION_FAILED', `memory sink: injected failure of commit ${attempts}`);
      }
      if (fault === 'uncertain-committed' || fault === 'uncertain-lost') {
        if (fault === 'uncertain-committed') apply(payload);
        pending = [];
        machine.to('uncertain');
        throw new CommitUncertainError(`memory sink: injected ${fault} outcome of commit ${attempts}`);
      }
      apply(payload);
      pending = [];
      machine.to('idle');
    },
    async abort() {
      machine.enter('abort');
      pending = [];
      machine.to('idle');
    },
    async recover() {
      machine.enter('recover');
      pending = [];
      machine.to('idle');
      return state;
    },
    async close() {
      pending = [];
      machine.to('closed');
    },
  };
}
