// Over 400 lines on purpose: the exactly-once loop (open, read, consume, commit, acknowledge,
// and the settle/recover/rewind protocol after a failure) shares the open transaction and the
// sink phase; the commit policy, the poison stage, rowtime promotion and transform chains are
// in their own modules.
import {
  backoffMs,
  type CommitPolicy,
  DEFAULT_RETRY_POLICY,
  type RetryPolicy,
  resolveCommitPolicy,
  rowtimeSpanOf,
} from './commit-policy.js';
import { sleep } from './deadline.js';
import { type BackOffError, CommitUncertainError, TidemarkError, toTidemarkError } from './errors.js';
import type { JsonValue } from './json.js';
import { type Logger, silentLogger } from './logger.js';
import { type PoisonPolicy, PoisonStage } from './poison.js';
import { recordBytes, type SinkRecord, type SourcePosition, type TidemarkRecord } from './record.js';
import { instrumentSource, type RowtimeRule } from './rowtime.js';
import type { TransactionalSink } from './sink.js';
import type { ReadOptions, Source, SourceBatch } from './source.js';
import type { StagesSpec } from './stages/chain.js';
import { checkStagesConfiguration, PipelineStages, type PipelineStagesStats } from './stages/runtime.js';
import { composeTransforms, type Transform } from './transforms.js';
import {
  type CommittedState,
  EMPTY_COMMITTED_STATE,
  mergeWatermarks,
  type PipelineWatermarks,
  type Watermark,
  watermarksEqual,
} from './watermark.js';

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
  /** A sample of `source.lag()` (at most every 5 s per source, between reads). */
  onLag?(info: { source: string; lag: number }): void;
  /** A sample of `source.progress()` (at most every 5 s per source, between reads). */
  onProgress?(info: { source: string; done: number; total?: number }): void;
}

export interface PipelineOptions {
  /** Stable pipeline id: derives the sink's transactional identity. */
  readonly id: string;
  readonly taskId?: string;
  /** Source names must be unique: they key the watermarks. */
  readonly sources: readonly Source[];
  readonly sink: TransactionalSink;
  /** One transform, or steps chained in order (each gets every record the previous produced). */
  readonly transform?: Transform | readonly Transform[];
  /** Promotes each record's rowtime from a provenance column or a JSON field before anything else sees it. */
  readonly rowtime?: RowtimeRule;
  /** T-sort and window stages after rowtime promotion and transforms (`stagesSpecOf`, docs/windows.md). */
  readonly stages?: StagesSpec;
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

export type PipelineState =
  | 'created'
  | 'opening'
  | 'running'
  | 'recovering'
  | 'stopping'
  | 'stopped'
  | 'failed';

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
  /** Counters of the t-sort and window stages, when the pipeline has them. */
  readonly stages?: PipelineStagesStats;
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

/** Records read from one source (or carried over a rowtime span break) and not yet consumed. */
interface PendingBatch {
  readonly records: readonly PendingRecord[];
  readonly advance: { readonly sourceIndex: number; readonly watermark: Watermark } | undefined;
  /** A source asked for a commit after this batch (see SourceBatch.commitRequested). */
  readonly commitRequested?: boolean;
}

/**
 * What the sink is doing, as far as the runtime knows: decides abort versus recover after a
 * failure. `committing` means a commit was sent: whatever happened, it is never aborted.
 */
type SinkPhase = 'idle' | 'transaction' | 'committing';

const NOTHING_PENDING: PendingBatch = Object.freeze({ records: [], advance: undefined });
const EMPTY_BATCH: SourceBatch = Object.freeze({ records: [] });

interface OpenTransaction {
  readonly startedAt: number;
  records: number;
  bytes: number;
  rowtime: number | null;
  span: number | null;
  watermarks: Record<string, Watermark>;
  /** Sources whose entry in `watermarks` is this transaction's own copy, safe to update in place. */
  owned: Set<string>;
}

/**
 * The exactly-once loop: read → transform → write → commit → acknowledge.
 *
 * Protocol: the sink is opened first (fencing older instances) and returns the committed
 * watermarks; every source opens at its committed watermark (null when it never committed).
 * Records are written inside a transaction; the commit stores every source's watermark
 * atomically with the data; then every source whose committed watermark moved is acknowledged.
 * On a failure the open transaction is aborted, except after a commit was sent: its outcome
 * may be unknown, so the sink is recovered instead and the committed state re-read. Then the
 * sources not yet acknowledged up to the committed watermark are acknowledged, every source is
 * rewound to it, and the loop replays after a backoff.
 */
export class Pipeline {
  readonly id: string;
  readonly #options: PipelineOptions;
  readonly #policy: CommitPolicy;
  readonly #retry: RetryPolicy;
  readonly #batch: BatchLimits;
  readonly #sources: readonly Source[];
  readonly #transform: Transform | undefined;
  readonly #poisonStage: PoisonStage;
  readonly #stages: PipelineStages | undefined;
  readonly #logger: Logger;
  readonly #observer: PipelineObserver;
  readonly #now: () => number;
  readonly #sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  readonly #stopController = new AbortController();

  #state: PipelineState = 'created';
  #committed: CommittedState = EMPTY_COMMITTED_STATE;
  /** Per source name: the last watermark the source was told is committed. */
  #acknowledged: Record<string, Watermark> = {};
  #carry: PendingBatch = NOTHING_PENDING;
  #ended: boolean[];
  #nextSource = 0;
  #transaction: OpenTransaction | null = null;
  #sinkPhase: SinkPhase = 'idle';
  #lastActivityAt = 0;
  #recordsIn = 0;
  #recordsOut = 0;
  #commits = 0;
  #rewinds = 0;
  /**
   * True from an open or rewind until the first commit after it: that transaction (the replay
   * from the committed watermark, and what arrived meanwhile) commits as soon as a read returns
   * less than a full batch (the sources had no more at hand), so a restarted pipeline's output
   * shows without waiting a full commit interval.
   */
  #catchingUp = false;
  #lastError: string | null = null;

  constructor(options: PipelineOptions) {
    const names = new Set<string>();
    for (const source of options.sources) {
      if (names.has(source.name)) {
        throw new TidemarkError(
          'CONFIG_INVALID',
          `pipeline ${options.id}: two sources are named '${source.name}'`,
          {
            fix: 'Give every source of a pipeline its own name: it keys the source watermark.',
          },
        );
      }
      names.add(source.name);
    }
    if (options.sources.length === 0) {
      throw new TidemarkError('CONFIG_INVALID', `pipeline ${options.id} has no source`);
    }
    if (options.poison === 'dead-letter' && !options.sink.capabilities.deadLetter) {
      throw new TidemarkError(
        'CONFIG_INVALID',
        `pipeline ${options.id}: the sink has no dead-letter output`,
        {
          fix: "Configure a dead-letter output on the sink, or set the poison policy to 'fail' or 'skip'.",
        },
      );
    }
    this.id = options.id;
    this.#options = options;
    this.#policy = resolveCommitPolicy(options.commit);
    this.#retry = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    this.#batch = { ...DEFAULT_BATCH_LIMITS, ...options.batch };
    this.#logger = (options.logger ?? silentLogger).child({ pipeline: options.id });
    this.#observer = options.observer ?? {};
    const observer = this.#observer;
    this.#sources = options.sources.map((source) =>
      instrumentSource(source, {
        rowtime: options.rowtime,
        onLag: observer.onLag && ((lag) => observer.onLag?.({ source: source.name, lag })),
        onProgress:
          observer.onProgress && ((progress) => observer.onProgress?.({ source: source.name, ...progress })),
        ...(options.now ? { now: options.now } : {}),
      }),
    );
    const transform = options.transform;
    this.#transform = composeTransforms(typeof transform === 'function' ? [transform] : (transform ?? []));
    this.#poisonStage = new PoisonStage({
      pipelineId: options.id,
      policy: options.poison ?? 'fail',
      transform: this.#transform,
      logger: this.#logger,
      onPoison: observer.onPoison && ((info) => observer.onPoison?.(info)),
    });
    if (options.stages && (options.stages.tsort || options.stages.window)) {
      checkStagesConfiguration({ pipelineId: options.id, spec: options.stages, ...options });
      this.#stages = new PipelineStages(options.stages, this.#transform, this.#poisonStage);
    }
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? sleep;
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
      ...(this.#stages ? { stages: this.#stages.stats() } : {}),
    };
  }

  /**
   * Asks the loop to stop: a read in progress returns, the open transaction is committed, and
   * `run` resolves. Safe to call at any time, more than once. A stop during a retry backoff
   * ends the run without replaying: nothing past the committed watermark is kept.
   */
  stop(): void {
    if (this.#state !== 'stopped' && this.#state !== 'failed') this.#state = 'stopping';
    this.#stopController.abort();
  }

  /**
   * Runs until `stop()`, until bounded sources end, or until a non-retriable failure (thrown
   * as a TidemarkError after the open transaction was aborted and everything closed).
   * Retriable failures are retried with backoff; after `retry.maxConsecutiveFailures` of them
   * without a successful cycle in between, it throws RETRIES_EXHAUSTED with the last as cause.
   */
  async run(): Promise<PipelineResult> {
    const { sink } = this.#options;
    const signal = this.#stopController.signal;
    let failures = 0;
    let needsOpen = true;
    let needsRecover = false;
    let needsRewind = false;
    let reason: PipelineResult['reason'] = 'stopped';
    this.#setState('opening');
    try {
      while (!signal.aborted) {
        try {
          if (needsOpen) {
            await this.#open();
            needsOpen = false;
          }
          if (needsRecover) {
            this.#committed = await sink.recover();
            this.#sinkPhase = 'idle';
            needsRecover = false;
            needsRewind = true;
          }
          if (needsRewind) {
            await this.#rewind();
            needsRewind = false;
          }
          this.#setState('running');
          const outcome = await this.#cycle(signal);
          failures = 0;
          if (outcome === 'ended') {
            reason = 'ended';
            break;
          }
        } catch (thrown) {
          const error = toTidemarkError(thrown);
          this.#lastError = error.message;
          this.#transaction = null;
          if (!needsOpen && (await this.#settleSink(error))) needsRecover = true;
          if (!error.retriable) throw error;
          failures += 1;
          if (failures > this.#retry.maxConsecutiveFailures) {
            throw new TidemarkError(
              'RETRIES_EXHAUSTED',
              `pipeline ${this.id} failed ${failures} times in a row; last error: ${error.message}`,
              {
                cause: error,
                fix: error.fix ?? 'See the cause; the pipeline resumes from its committed watermark.',
              },
            );
          }
          if (!needsOpen) needsRewind = true;
          this.#setState('recovering');
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
      this.#state = 'stopped';
      return { status: this.status(), reason };
    } catch (thrown) {
      this.#state = 'failed';
      const error = toTidemarkError(thrown);
      this.#lastError = error.message;
      this.#logger.error(
        { err: error.message, code: error.code },
        'pipeline stopped on a non-retriable error',
      );
      throw error;
    } finally {
      await this.#closeAll();
    }
  }

  #setState(state: PipelineState): void {
    if (this.#state !== 'stopping') this.#state = state;
  }

  /** Opens the sink, then every source at its committed watermark; on failure closes all of them. */
  async #open(): Promise<void> {
    const { sink, id, taskId } = this.#options;
    const sources = this.#sources;
    this.#transaction = null;
    this.#carry = NOTHING_PENDING;
    this.#ended = sources.map(() => false);
    this.#sinkPhase = 'idle';
    try {
      this.#committed = await sink.open(
        taskId === undefined ? { pipelineId: id } : { pipelineId: id, taskId },
      );
      const starts = this.#stages
        ? await this.#stages.restart(this.#committed, sources)
        : this.#committed.watermarks;
      for (const source of sources) {
        await source.open(starts[source.name] ?? null);
      }
    } catch (error) {
      // Leave nothing half-open: the next attempt opens everything afresh.
      await this.#closeAll();
      throw error;
    }
    this.#acknowledged = { ...this.#committed.watermarks };
    this.#lastActivityAt = this.#now();
    this.#catchingUp = true;
    this.#logger.info(
      { watermarks: this.#committed.watermarks, rowtime: this.#committed.rowtime },
      'pipeline opened at committed watermark',
    );
  }

  /**
   * Acknowledges what is committed and not yet acknowledged (a commit whose acknowledgement
   * failed, or an uncertain commit that landed), then repositions every source at its
   * committed watermark.
   */
  async #rewind(): Promise<void> {
    const { sources } = this.#options;
    this.#carry = NOTHING_PENDING;
    this.#ended = sources.map(() => false);
    await this.#acknowledgeCommitted();
    const starts = this.#stages
      ? await this.#stages.restart(this.#committed, sources)
      : this.#committed.watermarks;
    for (const source of sources) {
      await source.seek(starts[source.name] ?? null);
    }
    this.#catchingUp = true;
  }

  /**
   * Brings the sink to a known state after a failure; returns true when it must be recovered.
   * A commit that was sent is never aborted (its outcome may be unknown): recover instead.
   */
  async #settleSink(error: TidemarkError): Promise<boolean> {
    if (this.#sinkPhase === 'committing' || error.code === 'COMMIT_UNCERTAIN') return true;
    if (this.#sinkPhase !== 'transaction') return false;
    this.#observer.onAbort?.({ reason: error.message });
    try {
      await this.#options.sink.abort();
      this.#sinkPhase = 'idle';
      return false;
    } catch (abortError) {
      this.#logger.warn(
        { err: toTidemarkError(abortError).message },
        'abort failed; the sink will be recovered',
      );
      return true;
    }
  }

  /** One transaction: returns 'ended' when bounded sources are drained and committed. */
  async #cycle(signal: AbortSignal): Promise<'committed' | 'idle' | 'ended'> {
    const policy = this.#policy;
    const stopWhenEnded = this.#options.stopWhenSourcesEnd !== false;
    while (true) {
      const pending = this.#carry.records.length > 0 ? this.#takeCarry() : await this.#readNext(signal);
      const spanBreak = await this.#consume(pending);
      const allEnded = this.#carry.records.length === 0 && this.#ended.every(Boolean);
      if (allEnded && this.#stages?.needsFlush) await this.#write(await this.#stages.flush());
      const open = this.#transaction;
      if (open) {
        const due =
          spanBreak ||
          (this.#catchingUp && pending.records.length < this.#batch.maxRecords) ||
          pending.commitRequested === true ||
          signal.aborted ||
          allEnded ||
          open.records >= policy.maxRecords ||
          open.bytes >= policy.maxBytes ||
          this.#now() - open.startedAt >= policy.maxWallMs;
        if (!due) continue;
        await this.#commit(open);
        this.#catchingUp = false;
        return allEnded && stopWhenEnded ? 'ended' : 'committed';
      }
      if (allEnded && stopWhenEnded) return 'ended';
      if (signal.aborted) return 'idle';
      const hasCommitted = Object.keys(this.#committed.watermarks).length > 0;
      if (hasCommitted && this.#now() - this.#lastActivityAt >= policy.idleRecommitMs) {
        // An empty transaction re-commits the unchanged watermarks so they do not expire.
        await this.#commit(await this.#ensureTransaction());
        return 'committed';
      }
      if (allEnded) await this.#sleep(this.#batch.maxWaitMs, signal);
      return 'idle';
    }
  }

  /**
   * Transforms and writes a pending batch in the open transaction (beginning one if needed)
   * and folds its positions into the transaction's watermarks. A record of another rowtime span
   * than the transaction's stops the batch: it and the rest are carried into the next
   * transaction, and true is returned so the current one commits.
   */
  async #consume(pending: PendingBatch): Promise<boolean> {
    const { sink } = this.#options;
    const sources = this.#sources;
    const spanMs = this.#policy.rowtimeSpanMs;
    let outputs: SinkRecord[] = [];
    // Source of each output, kept only when the sink checks records (to name it in dead letters).
    const outputSources: number[] | undefined = sink.checkRecords ? [] : undefined;
    let consumed = 0;
    // The hot path: one await per batch, not per record, when there is nothing to transform.
    const open = pending.records.length > 0 ? await this.#ensureTransaction() : null;
    const direct = this.#transform === undefined;
    for (const item of pending.records) {
      const { record } = item;
      const span = spanMs === null ? null : rowtimeSpanOf(record.rowtime, spanMs);
      if (open === null) break;
      if (span !== null && open.span !== null && span !== open.span) break;
      if (this.#stages) {
        for (const output of await this.#stages.consume(record, sources[item.sourceIndex]!.name)) {
          outputs.push(output);
          outputSources?.push(item.sourceIndex);
        }
      } else if (direct && record.poison === undefined) {
        outputs.push(record);
        outputSources?.push(item.sourceIndex);
      } else {
        const name = sources[item.sourceIndex]!.name;
        for (const output of await this.#poisonStage.process(record, name)) {
          outputs.push(output);
          outputSources?.push(item.sourceIndex);
        }
      }
      if (!this.#stages) this.#advance(open, sources[item.sourceIndex]!.name, record.position);
      open.records += 1;
      open.bytes += recordBytes(record);
      open.rowtime = record.rowtime;
      open.span ??= span;
      consumed += 1;
    }
    const spanBreak = consumed < pending.records.length;
    if (spanBreak) {
      this.#carry = { records: pending.records.slice(consumed), advance: pending.advance };
    } else if (pending.advance) {
      const open = await this.#ensureTransaction();
      const name = sources[pending.advance.sourceIndex]!.name;
      const advance = this.#stages
        ? this.#stages.unheld(name, pending.advance.watermark)
        : pending.advance.watermark;
      open.watermarks[name] = { ...mergeWatermarks(open.watermarks[name], advance) };
      open.owned.add(name);
    }
    if (outputSources && outputs.length > 0) {
      outputs = this.#poisonStage.checkSinkRecords(
        sink,
        outputs,
        (index) => sources[outputSources[index]!]!.name,
      );
    }
    await this.#write(outputs);
    return spanBreak;
  }

  /** Writes outputs into the open transaction, beginning one if needed. */
  async #write(outputs: SinkRecord[]): Promise<void> {
    if (outputs.length === 0) return;
    await this.#ensureTransaction();
    await this.#options.sink.write(outputs);
    let deadLettered = 0;
    let bytes = 0;
    for (const output of outputs) {
      if (output.route === 'dead-letter') deadLettered += 1;
      bytes += recordBytes(output);
    }
    this.#recordsOut += outputs.length - deadLettered;
    this.#observer.onWrite?.({ records: outputs.length - deadLettered, deadLettered, bytes });
  }

  /** Moves the transaction's watermark of `name` past `position`, copying it on first change. */
  #advance(open: OpenTransaction, name: string, position: SourcePosition): void {
    let watermark = open.watermarks[name] as Record<string, JsonValue> | undefined;
    if (!open.owned.has(name)) {
      watermark = { ...watermark };
      open.watermarks[name] = watermark;
      open.owned.add(name);
    }
    watermark![position.unit] = position.next;
  }

  #takeCarry(): PendingBatch {
    const carry = this.#carry;
    this.#carry = NOTHING_PENDING;
    return carry;
  }

  /**
   * Reads the next batch, round-robin across sources that have not ended. A read never asks
   * for more than the open transaction may still take under the commit policy, so a
   * transaction holds at most `commit.maxRecords` records.
   */
  async #readNext(signal: AbortSignal): Promise<PendingBatch> {
    const sources = this.#sources;
    const count = sources.length;
    for (let attempt = 0; attempt < count; attempt += 1) {
      const index = (this.#nextSource + attempt) % count;
      if (this.#ended[index]) continue;
      const source = sources[index]!;
      const open = this.#transaction;
      const waitMs =
        open === null
          ? this.#batch.maxWaitMs
          : Math.max(
              0,
              Math.min(this.#batch.maxWaitMs, this.#policy.maxWallMs - (this.#now() - open.startedAt)),
            );
      const batch = await this.#read(source, {
        signal,
        maxRecords: Math.max(
          1,
          Math.min(this.#batch.maxRecords, this.#policy.maxRecords - (open?.records ?? 0)),
        ),
        maxBytes: Math.max(1, Math.min(this.#batch.maxBytes, this.#policy.maxBytes - (open?.bytes ?? 0))),
        maxWaitMs: Math.ceil(waitMs / count),
      });
      if (batch.end) this.#ended[index] = true;
      const hasAdvance = batch.advance !== undefined && Object.keys(batch.advance).length > 0;
      if (batch.records.length === 0 && !hasAdvance) {
        if (batch.commitRequested === true && open !== null)
          return { ...NOTHING_PENDING, commitRequested: true };
        continue;
      }
      this.#nextSource = (index + 1) % count;
      let bytes = 0;
      for (const record of batch.records) bytes += recordBytes(record);
      this.#recordsIn += batch.records.length;
      this.#observer.onRead?.({ source: source.name, records: batch.records.length, bytes });
      return {
        records: batch.records.map((record) => ({ sourceIndex: index, record })),
        advance: hasAdvance ? { sourceIndex: index, watermark: batch.advance! } : undefined,
        commitRequested: batch.commitRequested === true,
      };
    }
    return NOTHING_PENDING;
  }

  /**
   * One read. A BackOffError pauses for the time it asks and counts as an empty batch; so does
   * a read that failed because the pipeline is stopping (nothing it read is kept).
   */
  async #read(source: Source, options: ReadOptions): Promise<SourceBatch> {
    try {
      return await source.read(options);
    } catch (thrown) {
      if (options.signal.aborted) return EMPTY_BATCH;
      if (!TidemarkError.hasCode(thrown, 'BACK_OFF')) throw thrown;
      const wait = (thrown as Partial<BackOffError>).backoffMs ?? this.#batch.maxWaitMs;
      this.#logger.debug({ source: source.name, backoffMs: wait }, 'source asked to back off');
      await this.#sleep(wait, options.signal);
      return EMPTY_BATCH;
    }
  }

  async #ensureTransaction(): Promise<OpenTransaction> {
    if (this.#transaction) return this.#transaction;
    this.#sinkPhase = 'transaction';
    await this.#options.sink.begin();
    this.#transaction = {
      startedAt: this.#now(),
      records: 0,
      bytes: 0,
      rowtime: null,
      span: null,
      watermarks: { ...this.#committed.watermarks },
      owned: new Set(),
    };
    return this.#transaction;
  }

  /**
   * Commits the open transaction with every source's watermark, then acknowledges. A commit
   * failure that is retriable is reported as COMMIT_UNCERTAIN (the sink is recovered, never
   * aborted); a non-retriable one (FENCED, ILLEGAL_STATE) as itself.
   */
  async #commit(open: OpenTransaction): Promise<void> {
    const started = this.#now();
    if (this.#stages) {
      for (const { source, position } of this.#stages.takeCommittable())
        this.#advance(open, source, position);
    }
    const rowtime = (this.#stages ? this.#stages.committedRowtime : open.rowtime) ?? this.#committed.rowtime;
    const watermarks: PipelineWatermarks = open.watermarks;
    this.#sinkPhase = 'committing';
    try {
      await this.#options.sink.commit({ watermarks, rowtime });
    } catch (thrown) {
      const error = toTidemarkError(thrown);
      if (error.code === 'COMMIT_UNCERTAIN' || !error.retriable) throw error;
      throw new CommitUncertainError(`commit failed, outcome unknown: ${error.message}`, { cause: thrown });
    }
    this.#sinkPhase = 'idle';
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
    await this.#acknowledgeCommitted();
  }

  /**
   * Acknowledges to every source the committed watermark it has not been told yet. A failure
   * here rewinds to the committed watermark (nothing is lost or repeated), and the
   * acknowledgement is retried after the rewind.
   */
  async #acknowledgeCommitted(): Promise<void> {
    for (const source of this.#sources) {
      const watermark = this.#committed.watermarks[source.name];
      if (watermark === undefined || watermarksEqual(watermark, this.#acknowledged[source.name])) continue;
      await source.acknowledge(watermark);
      this.#acknowledged[source.name] = watermark;
    }
  }

  async #closeAll(): Promise<void> {
    this.#sinkPhase = 'idle';
    for (const source of this.#sources) {
      try {
        await source.close();
      } catch (error) {
        this.#logger.warn(
          { source: source.name, err: toTidemarkError(error).message },
          'source close failed',
        );
      }
    }
    try {
      await this.#options.sink.close();
    } catch (error) {
      this.#logger.warn({ err: toTidemarkError(error).message }, 'sink close failed');
    }
  }
}
