/**
 * Deliberately broken memory sinks, each with one flaw a real sink could have, for showing
 * that the sink conformance suite catches every one of them. Test fixture: not exported.
 */
import type { CommitPayload, CommittedState, PipelineIdentity, SinkRecord } from '@tidemark/core';
import { type MemorySinkOptions, MemoryTransactionalSink } from '@tidemark/core/testing';

/** Commits the records but not the watermark (two separate writes, the second forgotten). */
class CommitsWithoutWatermark extends MemoryTransactionalSink {
  override async commit(payload: CommitPayload): Promise<void> {
    const previous = this.store.state;
    await super.commit({ ...payload, watermarks: previous.watermarks });
  }
}

/** Aborts after an uncertain commit: `abort` is accepted in the `uncertain` state. */
class AbortsAfterUncertainCommit extends MemoryTransactionalSink {
  override async abort(): Promise<void> {
    if (this.machine.state === 'uncertain') {
      this.pending = [];
      this.machine.to('idle');
      return;
    }
    await super.abort();
  }
}

/** Opens without fencing: an older instance keeps committing. */
class NoFencingAtOpen extends MemoryTransactionalSink {
  override async open(_identity: PipelineIdentity): Promise<CommittedState> {
    this.machine.enter('open');
    this.epoch = this.store.epoch;
    this.pending = [];
    this.machine.to('idle');
    return this.store.state;
  }
}

/** Reads the committed state first, then fences (and so misses a commit in flight). */
class ReadsWatermarkBeforeFencing extends MemoryTransactionalSink {
  override async open(_identity: PipelineIdentity): Promise<CommittedState> {
    this.machine.enter('open');
    const state = this.store.state;
    this.epoch = this.store.fence();
    this.pending = [];
    this.machine.to('idle');
    return state;
  }
}

/** Writes straight through: records are visible before (and without) the commit. */
class WritesOutsideTransaction extends MemoryTransactionalSink {
  override async write(records: readonly SinkRecord[]): Promise<void> {
    this.machine.enter('write');
    this.store.apply(records, this.store.state);
  }
}

/** Keeps no state machine for writes: `write` outside a transaction is accepted. */
class WritesWithoutTransaction extends MemoryTransactionalSink {
  override async write(records: readonly SinkRecord[]): Promise<void> {
    this.pending.push(...records);
  }
}

export const BROKEN_SINKS = {
  'commits data without the watermark': CommitsWithoutWatermark,
  'aborts after an uncertain commit': AbortsAfterUncertainCommit,
  'no fencing at open': NoFencingAtOpen,
  'reads the watermark before fencing': ReadsWatermarkBeforeFencing,
  'writes outside the transaction': WritesOutsideTransaction,
  'accepts write without a transaction': WritesWithoutTransaction,
} as const satisfies Record<string, new (options: MemorySinkOptions) => MemoryTransactionalSink>;

export type BrokenSinkFlaw = keyof typeof BROKEN_SINKS;
