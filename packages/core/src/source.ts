import type { ProvenanceColumn, TidemarkRecord } from './record.js';
import type { Watermark } from './watermark.js';

/**
 * How a source gets records back after a failure.
 * - `seek`: the source can reposition itself to any committed watermark (Kafka, files,
 *   Kinesis, RDBMS, RabbitMQ stream queues). Exactly-once by rewind.
 * - `redeliver`: the broker redelivers whatever was not acknowledged (AMQP classic and quorum
 *   queues, MQTT persistent sessions). Exactly-once by acknowledging only after the sink
 *   committed, and by recognising redeliveries of what the watermark already covers.
 */
export type ReplayMode = 'seek' | 'redeliver';

/** What a source can do. Every field is required: no capability defaults silently. */
export interface SourceCapabilities {
  readonly replay: ReplayMode;
  /** True when the source, paired with a transactional sink, delivers each record exactly once. */
  readonly exactlyOnce: boolean;
  /** True when the source ends by itself (a bounded table scan, a fixed file set in batch mode). */
  readonly bounded: boolean;
}

/** Progress of a source through a finite phase, see {@link Source.progress}. */
export interface SourceProgress {
  readonly done: number;
  readonly total?: number;
}

/** A batch returned by {@link Source.read}. */
export interface SourceBatch {
  /** Records in source order. May be empty (nothing arrived within the poll time). */
  readonly records: readonly TidemarkRecord[];
  /**
   * Watermark entries that advance without a record (an empty file finished, a skipped
   * region): merged after the records' own positions once the whole batch is consumed.
   */
  readonly advance?: Watermark;
  /** True when a bounded source has nothing more, ever. */
  readonly end?: boolean;
  /**
   * Asks the runtime to commit the open transaction after this batch, without waiting for the
   * commit policy: the source holds acknowledgements its broker waits for before it sends more
   * (a redeliver source whose in-flight window is full or idle). May come with no records.
   */
  readonly commitRequested?: boolean;
}

export interface ReadOptions {
  /** Aborted when the pipeline stops or rewinds; `read` then returns promptly (empty batch). */
  readonly signal: AbortSignal;
  /** Upper bound on records returned. */
  readonly maxRecords: number;
  /** Upper bound on payload bytes returned (approximate: one record may overshoot). */
  readonly maxBytes: number;
  /** How long `read` may wait for the first record before returning an empty batch. */
  readonly maxWaitMs: number;
}

/**
 * One configured input of a pipeline.
 *
 * The runtime calls these methods one at a time (never concurrently) in this order:
 * `open` → (`read` | `acknowledge` | `seek`)* → `close`, and `open` again after `close`. Positions belong to the runtime: the
 * source reports a position with every record and repositions on `seek`; it never decides on
 * its own that something is committed.
 *
 * Errors: throw a TidemarkError. `retriable` ones make the runtime rewind and retry; others
 * stop the pipeline. `BackOffError` asks for a pause; `POISON_RECORD` goes to the poison policy.
 */
export interface Source {
  /** The instance name from the configuration; keys this source's watermark. */
  readonly name: string;
  /** The provenance columns present on every record this source yields. */
  readonly provenance: readonly ProvenanceColumn[];
  readonly capabilities: SourceCapabilities;

  /**
   * Connects and positions the source. `watermark` is the committed watermark of this source,
   * or null when none was ever committed: then the source applies its configured start
   * (explicit positions > starting offset > starting time > earliest/latest). Units missing
   * from a non-null watermark also start at the configured start.
   */
  open(watermark: Watermark | null): Promise<void>;

  /** Returns the next records after everything returned so far. */
  read(options: ReadOptions): Promise<SourceBatch>;

  /**
   * Rewinds to just after `watermark` (null: to the configured start), discarding anything
   * read but not committed. Seek sources reposition; redeliver sources release unacknowledged
   * messages back to the broker and skip redeliveries the watermark covers.
   */
  seek(watermark: Watermark | null): Promise<void>;

  /**
   * Called after the sink durably committed `watermark` for this source. Redeliver sources ack
   * the messages it covers; seek sources may release resources (a finished file) or commit
   * consumer offsets for monitoring. Must not throw for a watermark it has already seen.
   */
  acknowledge(watermark: Watermark): Promise<void>;

  /** Releases every handle (sockets, file descriptors, watchers, timers). Idempotent. */
  close(): Promise<void>;

  /** Records behind the head of the source, where known (for metrics). */
  lag?(): Promise<number | undefined>;

  /**
   * Optional: how far a long finite phase (a table backfill) has come: `done` units (rows,
   * files) of `total` when known; undefined when there is no such phase (any more). Called
   * between reads for the status line and the `tidemark_source_progress` gauge; never
   * concurrent with other calls.
   */
  progress?(): Promise<SourceProgress | undefined>;

  /**
   * Optional: translates a deliberate reset target into a watermark of this source, on an
   * unopened instance (`tidemark watermarks reset --to latest|<time>`). Sources without it
   * cannot be reset to a time; the CLI says so.
   */
  watermarkAt?(target: { readonly latest: true } | { readonly time: number }): Promise<Watermark>;
}
