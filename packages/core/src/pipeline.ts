import {
  backoffMs,
  type CommitPolicy,
  DEFAULT_RETRY_POLICY,
  type RetryPolicy,
  resolveCommitPolicy,
  rowtimeSpanOf,
} from './commit-policy.js';
import { CommitUncertainError, PoisonRecordError, TidemarkError, toTidemarkError } from './errors.js';
import { type Logger, silentLogger } from './logger.js';
import { recordBytes, type SinkRecord, type TidemarkRecord } from './record.js';
import type { TransactionalSink } from './sink.js';
import type { Source } from './source.js';
import {
  advanceWatermark,
  type CommittedState,
  mergeWatermarks,
  type PipelineWatermarks,
  type Watermark,
  watermarksEqual,
} from './watermark.js';

/** What to do with a record that a transform (or its source) cannot process. */
export type PoisonPolicy = 'fail' | 'skip' | 'dead-letter';

/**
 * A record transform: returns the record (possibly changed), several records, or null/[] to
 * drop it. Throwing marks the record as poison. It may be async. It must be deterministic
 * for exactly-once: a replayed record must produce the same output.
 */
export type Transform = (
  record: TidemarkRecord,
) => TidemarkRecord | readonly TidemarkRecord[] | null | Promise<TidemarkRecord | readonly TidemarkRecord[] | null>;

export interface BatchLimits {
  /** Records read from a source per read call. */
  readonly maxRecords: number;
  /** Bytes read from a source per read call. */
  readonly maxBytes: number;
  /** How long a read may wait for data (ms). */
  readonly maxWaitMs: number;
}

export const DEFAULT_BATCH_LIMITS: BatchLimits = Object.freeze({
  maxRecords: 5_000,
  maxBytes: 4 * 1024 * 1024,
  maxWaitMs: 100,
});

/** Hooks for metrics and progress. Called synchronously; must not throw. */
export interface PipelineObserver {
  onRead?(info: { source: string; records: number; bytes: number }): void;
  onWrite?(info: { records: number; deadLettered: number; bytes: number }): void;
  onCommit?(info: {
    records: number;
    bytes: number;
    durationMs: number;
    watermarks: PipelineWatermarks;
    rowtime: number | null;
  }): void;
  onAbort?(info: { reason: string }): void;
  onRewind?(info: { error: TidemarkError; failures: number; backoffMs: number }): void;
  onPoison?(info: { source: string; action: PoisonPolicy; error: string }): void;
}

export interface PipelineOptions {
  /** Stable pipeline id: derives the sink's transactional identity. */
  readonly id: string;
  readonly taskId?: string;
  /** Source names must be unique: they key the watermarks. */
  readonly sources: readonly Source[];
  readonly sink: TransactionalSink;
  readonly transform?: Transform;
  readonly commit?: Partial<CommitPolicy>;
  readonly retry?: Partial<RetryPolicy>;
  readonly batch?: Partial<BatchLimits>;
  readonly poison?: PoisonPolicy;
  /** Stop (after a final commit) once every source is bounded and has ended. Default true. */
  readonly stopWhenSourcesEnd?: boolean;
  readonly logger?: Logger;
  readonly observer?: PipelineObserver;
  /** Clock and sleep, replaceable in tests. */
  readonly now?: () => number;
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

export type PipelineState = 'created' | 'opening' | 'running' | 'recovering' | 'stopping' | 'stopped' | 'failed';

export interface PipelineStatus {
  readonly id: string;
  readonly state: PipelineState;
  readonly recordsIn: number;
  readonly recordsOut: number;
  readonly commits: number;
  readonly rewinds: number;
  readonly lastCommitAt: number | null;
  readonly committed: CommittedState;
  readonly lastError: string | null;
}

/** Result of {@link Pipeline.run}. */
export interface PipelineResult {
  readonly status: PipelineStatus;
  /** 'stopped' after `stop()`, 'ended' when bounded sources were drained. */
  readonly reason: 'stopped' | 'ended';
}

interface PendingRecord {
  readonly sourceIndex: number;
  readonly record: TidemarkRecord;
}

interface OpenTransaction {
  readonly startedAt: number;
  records: number;
  bytes: number;
  rowtime: number | null;
  span: number | null;
  watermarks: Record<string, Watermark>;
}

const abortableSleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

/**
 * The exactly-once loop: read → transform → write → commit → acknowledge.
 *
 * Protocol: the sink is opened first (fencing older instances) and returns the committed
 * watermarks; every source opens at its committed watermark. Records are written inside a
 * transaction; the commit stores every source's watermark atomically with the data. After a
 * commit the sources are acknowledged. On any failure the open transaction is aborted (never
 * after an uncertain commit: then the sink is recovered and the committed state re-read), every
 * source is rewound to the committed watermark, and the loop replays after a backoff.
 */
export class Pipeline {
  readonly id: string;
  readonly #options: PipelineOptions;
  readonly #policy: CommitPolicy;
  readonly #retry: RetryPolicy;
  readonly #batch: BatchLimits;
  readonly #poison: PoisonPolicy;
  readonly #logger: Logger;
  readonly #observer: PipelineObserver;
  readonly #now: () => number;
  readonly #sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  readonly #stopController = new AbortController();

  #state: PipelineState = 'created';
  #committed: CommittedState = { watermarks: {}, rowtime: null, committedAt: null };
  #carry: PendingRecord[] = [];
  #ended: boolean[];
  #nextSource = 0;
  #transaction: OpenTransaction | null = null;
  #lastActivityAt = 0;
  #recordsIn = 0;
  #recordsOut = 0;
  #commits = 0;
  #rewinds = 0;
  #lastError: string | null = null;

  constructor(options: PipelineOptions) {
    const names = new Set<string>();
    for (const source of options.sources) {
      if (names.has(source.name)) {
        throw new TidemarkError('CONFIG_INVALID', `pipeline ${options.id}: two sources are named '${source.name}'`, {
          fix: 'Give every source of a pipeline its own name: it keys the source watermark.',
        });
      }
      names.add(source.name);
    }
    if (options.sources.length === 0) {
      throw new TidemarkError('CONFIG_INVALID', `pipeline ${options.id} has no source`);
    }
    this.id = options.id;
    this.#options = options;
    this.#policy = resolveCommitPolicy(options.commit);
    this.#retry = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    this.#batch = { ...DEFAULT_BATCH_LIMITS, ...options.batch };
    this.#poison = options.poison ?? 'fail';
    this.#logger = (options.logger ?? silentLogger).child({ pipeline: options.id });
    this.#observer = options.observer ?? {};
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? abortableSleep;
    this.#ended = options.sources.map(() => false);
  }

  /** A snapshot for status lines and health checks. */
  status(): PipelineStatus {
    return {
      id: this.id,
      state: this.#state,
      recordsIn: this.#recordsIn,
      recordsOut: this.#recordsOut,
      commits: this.#commits,
      rewinds: this.#rewinds,
      lastCommitAt: this.#committed.committedAt,
      committed: this.#committed,
      lastError: this.#lastError,
    };
  }

  /**
   * Asks the loop to stop: the open transaction is committed (finished) and `run` resolves.
   * Safe to call at any time, more than once.
   */
  stop(): void {
    if (this.#state !== 'stopped' && this.#state !== 'failed') this.#state = 'stopping';
    this.#stopController.abort();
  }

  /**
   * Runs until `stop()`, until bounded sources end, or until a non-retriable failure (thrown
   * as a TidemarkError after the open transaction was aborted and everything closed).
   */
  async run(): Promise<PipelineResult> {
    const { sink, sources } = this.#options;
    const signal = this.#stopController.signal;
    let failures = 0;
    let needsOpen = true;
    let needsRecover = false;
    let needsRewind = false;
    let reason: PipelineResult['reason'] = 'stopped';
    if (this.#state === 'created') this.#state = 'opening';
    try {
      while (!signal.aborted) {
        try {
          if (needsOpen) {
            await this.#open();
            needsOpen = false;
            this.#state = 'running';
          }
          if (needsRecover) {
            this.#committed = await sink.recover();
            needsRecover = false;
            needsRewind = true;
          }
          if (needsRewind) {
            await this.#rewind();
            needsRewind = false;
            this.#state = 'running';
          }
          const outcome = await this.#cycle(signal);
          failures = 0;
          if (outcome === 'ended') {
            reason = 'ended';
            break;
          }
        } catch (thrown) {
          const error = toTidemarkError(thrown);
          this.#lastError = error.message;
          if (error.code === 'COMMIT_UNCERTAIN') {
            needsRecover = true;
          } else if (this.#transaction) {
            needsRecover = !(await this.#abortQuietly(error.message));
          }
          this.#transaction = null;
          if (!error.retriable) throw error;
          failures += 1;
          if (failures > this.#retry.maxConsecutiveFailures) {
            throw new TidemarkError(
              'RETRIES_EXHAUSTED',
              `pipeline ${this.id} failed ${failures} times in a row; last error: ${error.message}`,
              { cause: error, fix: error.fix ?? 'See the cause; the pipeline resumes from its committed watermark.' },
            );
          }
          if (!needsOpen) {
            needsRewind = true;
            this.#state = 'recovering';
          }
          this.#rewinds += 1;
          const wait = backoffMs(this.#retry, failures);
          this.#observer.onRewind?.({ error, failures, backoffMs: wait });
          this.#logger.warn(
            { err: error.message, code: error.code, failures, backoffMs: wait },
            'pipeline failed; rewinding to the committed watermark',
          );
          await this.#sleep(wait, signal);
        }
      }
      if (this.#transaction) await this.#finishOnStop();
      this.#state = 'stopped';
      return { status: this.status(), reason };
    } catch (thrown) {
      this.#state = 'failed';
      const error = toTidemarkError(thrown);
      this.#lastError = error.message;
      this.#logger.error({ err: error.message, code: error.code }, 'pipeline stopped on a non-retriable error');
      throw error;
    } finally {
      await this.#closeAll();
    }
  }

  async #open(): Promise<void> {
    const { sink, sources, id, taskId } = this.#options;
    try {
      this.#committed = await sink.open(taskId === undefined ? { pipelineId: id } : { pipelineId: id, taskId });
      for (const source of sources) {
        await source.open(this.#committed.watermarks[source.name] ?? null);
      }
    } catch (error) {
      // Leave nothing half-open: the next attempt opens everything afresh.
      await this.#closeAll();
      throw error;
    }
    this.#lastActivityAt = this.#now();
    this.#logger.info(
      { watermarks: this.#committed.watermarks, rowtime: this.#committed.rowtime },
      'pipeline opened at committed watermark',
    );
  }

  async #rewind(): Promise<void> {
    this.#carry = [];
    this.#ended = this.#options.sources.map(() => false);
    for (const source of this.#options.sources) {
      await source.seek(this.#committed.watermarks[source.name] ?? null);
    }
  }

  /** One transaction: returns 'ended' when bounded sources are drained and committed. */
  async #cycle(signal: AbortSignal): Promise<'committed' | 'idle' | 'ended'> {
    const { sources, sink } = this.#options;
    const policy = this.#policy;
    while (true) {
      const pending = this.#carry.length > 0 ? this.#takeCarry() : await this.#readNext(signal);
      let spanBreak = false;
      if (pending.records.length > 0 || pending.advance) {
        const outputs: SinkRecord[] = [];
        let consumed = 0;
        for (const item of pending.records) {
          const { record } = item;
          if (policy.rowtimeSpanMs !== null && this.#transaction?.span != null && this.#transaction.records > 0) {
            if (rowtimeSpanOf(record.rowtime, policy.rowtimeSpanMs) > this.#transaction.span) {
              spanBreak = true;
              break;
            }
          }
          const open = await this.#ensureTransaction();
          const produced = await this.#process(item);
          for (const output of produced) outputs.push(output);
          const name = sources[item.sourceIndex]!.name;
          open.watermarks[name] = advanceWatermark(open.watermarks[name] ?? {}, [record.position]);
          open.records += 1;
          open.bytes += recordBytes(record);
          open.rowtime = record.rowtime;
          if (open.span === null && policy.rowtimeSpanMs !== null) {
            open.span = rowtimeSpanOf(record.rowtime, policy.rowtimeSpanMs);
          }
          consumed += 1;
        }
        if (spanBreak) {
          this.#carry = pending.records.slice(consumed);
          this.#carryAdvance = pending.advance;
        } else if (pending.advance) {
          const open = await this.#ensureTransaction();
          const name = sources[pending.advance.sourceIndex]!.name;
          open.watermarks[name] = mergeWatermarks(open.watermarks[name], pending.advance.watermark);
        }
        if (outputs.length > 0) {
          await sink.write(outputs);
          let deadLettered = 0;
          let bytes = 0;
          for (const output of outputs) {
            if (output.route === 'dead-letter') deadLettered += 1;
            bytes += recordBytes(output);
          }
          this.#recordsOut += outputs.length - deadLettered;
          this.#observer.onWrite?.({ records: outputs.length - deadLettered, deadLettered, bytes });
        }
      }
      const open = this.#transaction;
      const now = this.#now();
      const allEnded = this.#carry.length === 0 && this.#allEnded();
      if (open) {
        const due =
          spanBreak ||
          signal.aborted ||
          allEnded ||
          open.records >= policy.maxRecords ||
          open.bytes >= policy.maxBytes ||
          now - open.startedAt >= policy.maxWallMs;
        if (due) {
          await this.#commit(open);
          if (allEnded && this.#options.stopWhenSourcesEnd !== false) return 'ended';
          return 'committed';
        }
        continue;
      }
      if (allEnded && this.#options.stopWhenSourcesEnd !== false) return 'ended';
      if (signal.aborted) return 'idle';
      if (now - this.#lastActivityAt >= policy.idleRecommitMs && Object.keys(this.#committed.watermarks).length > 0) {
        // Keep the committed watermark from expiring on an idle pipeline.
        const recommit = await this.#ensureTransaction();
        await this.#commit(recommit);
        return 'committed';
      }
      if (allEnded) await this.#sleep(this.#batch.maxWaitMs, signal);
      if (pending.records.length === 0 && this.#carry.length === 0) return 'idle';
    }
  }

  #carryAdvance: { sourceIndex: number; watermark: Watermark } | undefined;

  #takeCarry(): { records: PendingRecord[]; advance: { sourceIndex: number; watermark: Watermark } | undefined } {
    const records = this.#carry;
    const advance = this.#carryAdvance;
    this.#carry = [];
    this.#carryAdvance = undefined;
    return { records, advance };
  }

  #allEnded(): boolean {
    return this.#ended.every(Boolean);
  }

  /** Reads the next batch, round-robin across sources that have not ended. */
  async #readNext(
    signal: AbortSignal,
  ): Promise<{ records: PendingRecord[]; advance: { sourceIndex: number; watermark: Watermark } | undefined }> {
    const { sources } = this.#options;
    const count = sources.length;
    for (let attempt = 0; attempt < count; attempt += 1) {
      const index = (this.#nextSource + attempt) % count;
      if (this.#ended[index]) continue;
      const source = sources[index]!;
      const waitMs =
        this.#transaction === null
          ? this.#batch.maxWaitMs
          : Math.max(0, Math.min(this.#batch.maxWaitMs, this.#policy.maxWallMs - (this.#now() - this.#transaction.startedAt)));
      const batch = await source.read({
        signal,
        maxRecords: this.#batch.maxRecords,
        maxBytes: this.#batch.maxBytes,
        maxWaitMs: Math.ceil(waitMs / count),
      });
      if (batch.end) this.#ended[index] = true;
      const hasAdvance = batch.advance !== undefined && Object.keys(batch.advance).length > 0;
      if (batch.records.length === 0 && !hasAdvance) continue;
      this.#nextSource = (index + 1) % count;
      let bytes = 0;
      for (const record of batch.records) bytes += recordBytes(record);
      this.#recordsIn += batch.records.length;
      this.#observer.onRead?.({ source: source.name, records: batch.records.length, bytes });
      return {
        records: batch.records.map((record) => ({ sourceIndex: index, record })),
        advance: hasAdvance ? { sourceIndex: index, watermark: batch.advance! } : undefined,
      };
    }
    return { records: [], advance: undefined };
  }

  async #ensureTransaction(): Promise<OpenTransaction> {
    if (this.#transaction) return this.#transaction;
    await this.#options.sink.begin();
    this.#transaction = {
      startedAt: this.#now(),
      records: 0,
      bytes: 0,
      rowtime: null,
      span: null,
      watermarks: { ...this.#committed.watermarks },
    };
    return this.#transaction;
  }

  /** Transforms one record and applies the poison policy. */
  async #process(item: PendingRecord): Promise<SinkRecord[]> {
    const { record } = item;
    const sourceName = this.#options.sources[item.sourceIndex]!.name;
    let failure: string | undefined = record.poison;
    let produced: readonly TidemarkRecord[] = [];
    if (failure === undefined) {
      try {
        const result = this.#options.transform ? await this.#options.transform(record) : record;
        produced = result === null ? [] : Array.isArray(result) ? (result as readonly TidemarkRecord[]) : [result as TidemarkRecord];
      } catch (thrown) {
        failure = thrown instanceof Error ? thrown.message : String(thrown);
      }
    }
    if (failure === undefined) return produced as SinkRecord[];
    this.#observer.onPoison?.({ source: sourceName, action: this.#poison, error: failure });
    const where = JSON.stringify(record.provenance);
    switch (this.#poison) {
      case 'fail':
        throw new PoisonRecordError(`poison record from source '${sourceName}' at ${where}: ${failure}`, {
          fix: "Fix the record or the transform, or set the pipeline's poison policy to 'dead-letter' or 'skip'.",
          details: { source: sourceName, provenance: record.provenance },
        });
      case 'skip':
        this.#logger.warn({ source: sourceName, provenance: record.provenance, err: failure }, 'skipped poison record');
        return [];
      case 'dead-letter':
        return [
          {
            ...record,
            headers: {
              ...record.headers,
              'tidemark.error': failure,
              'tidemark.source': sourceName,
              'tidemark.pipeline': this.id,
            },
            route: 'dead-letter',
          },
        ];
    }
  }

  async #commit(open: OpenTransaction): Promise<void> {
    const { sink, sources } = this.#options;
    const started = this.#now();
    const rowtime = open.rowtime ?? this.#committed.rowtime;
    const watermarks: PipelineWatermarks = open.watermarks;
    try {
      await sink.commit({ watermarks, rowtime });
    } catch (thrown) {
      // Whatever went wrong during commit, its outcome may be unknown: never abort, recover.
      if (TidemarkError.hasCode(thrown, 'FENCED') || TidemarkError.hasCode(thrown, 'COMMIT_UNCERTAIN')) throw thrown;
      throw new CommitUncertainError(`commit failed: ${toTidemarkError(thrown).message}`, { cause: thrown });
    }
    const previous = this.#committed;
    this.#transaction = null;
    this.#committed = { watermarks, rowtime, committedAt: this.#now() };
    this.#commits += 1;
    this.#lastActivityAt = this.#now();
    this.#observer.onCommit?.({
      records: open.records,
      bytes: open.bytes,
      durationMs: this.#now() - started,
      watermarks,
      rowtime,
    });
    for (const source of sources) {
      const watermark = watermarks[source.name];
      if (watermark && !watermarksEqual(watermark, previous.watermarks[source.name])) {
        await source.acknowledge(watermark);
      }
    }
  }

  /** Aborts the open transaction; returns false when the abort itself failed. */
  async #abortQuietly(reason: string): Promise<boolean> {
    this.#transaction = null;
    this.#observer.onAbort?.({ reason });
    try {
      await this.#options.sink.abort();
      return true;
    } catch (error) {
      this.#logger.warn({ err: toTidemarkError(error).message }, 'abort failed; the sink will be recovered');
      return false;
    }
  }

  async #finishOnStop(): Promise<void> {
    const open = this.#transaction;
    if (!open) return;
    try {
      await this.#commit(open);
    } catch (thrown) {
      const error = toTidemarkError(thrown);
      this.#logger.warn({ err: error.message }, 'final commit failed on stop; nothing past the last commit is kept');
      if (error.code !== 'COMMIT_UNCERTAIN') await this.#abortQuietly('stop');
      this.#transaction = null;
    }
  }

  async #closeAll(): Promise<void> {
    for (const source of this.#options.sources) {
      try {
        await source.close();
      } catch (error) {
        this.#logger.warn({ source: source.name, err: toTidemarkError(error).message }, 'source close failed');
      }
    }
    try {
      await this.#options.sink.close();
    } catch (error) {
      this.#logger.warn({ err: toTidemarkError(error).message }, 'sink close failed');
    }
  }
}
