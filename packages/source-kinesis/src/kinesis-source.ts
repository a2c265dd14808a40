import {
  type JsonValue,
  type Logger,
  type ReadOptions,
  type Source,
  type SourceBatch,
  type SourceCapabilities,
  silentLogger,
  TidemarkError,
  type TidemarkRecord,
  type Watermark,
} from '@tidemark/sdk';
import type { KinesisSourceConfig } from './config.js';
import { isThrottling, toKinesisError } from './errors.js';
import { KinesisApi } from './kinesis-client.js';
import { KINESIS_PROVENANCE } from './provenance.js';
import { ShardReader } from './shard-reader.js';
import {
  advanceShard,
  emptyStreamPosition,
  parseStreamPosition,
  ShardTree,
  type StreamPosition,
} from './stream-position.js';

const CAPABILITIES: SourceCapabilities = Object.freeze({ replay: 'seek', exactlyOnce: true, bounded: false });
const encoder = new TextEncoder();

interface StreamState {
  readonly stream: string;
  tree: ShardTree;
  /** Position after everything `read` returned from this stream (the watermark value). */
  position: StreamPosition;
  listedAt: number;
  /** Set when a shard finished: its children may be readable now. */
  needsListing: boolean;
}

/**
 * Creates a Kinesis source for programmatic use (the YAML runtime goes through the connector's
 * `create`). `config` must already be validated by `kinesisSourceConfigSchema`.
 */
export function createKinesisSource(
  config: KinesisSourceConfig,
  name: string,
  logger: Logger = silentLogger,
): Source {
  return new KinesisSource(config, name, logger);
}

/**
 * Preflight for `tidemark validate --connect`: lists the shards of every stream. Throws
 * NOT_FOUND, AUTH_FAILED or CONNECTION_FAILED, each with a fix.
 */
export async function checkKinesisStreams(config: KinesisSourceConfig): Promise<void> {
  const api = new KinesisApi(config);
  try {
    for (const stream of config.streams) await api.listShards(stream);
  } finally {
    api.close();
  }
}

/**
 * Reads every shard of the configured streams. Watermark unit = stream name, value = a
 * StreamPosition (shard positions plus the finished frontier of the shard lineage), so a
 * child shard starts only after its parents were read to their end, and the watermark stays
 * bounded across any number of splits and merges. Records of one shard are in order; a
 * child's records come after its parents'. Exactly-once by seek (AFTER_SEQUENCE_NUMBER per
 * shard; AT_SEQUENCE_NUMBER plus a skip inside an aggregated record).
 */
export class KinesisSource implements Source {
  readonly name: string;
  readonly provenance = KINESIS_PROVENANCE;
  readonly capabilities = CAPABILITIES;

  readonly #config: KinesisSourceConfig;
  readonly #logger: Logger;
  #api: KinesisApi | undefined;
  readonly #streams = new Map<string, StreamState>();
  /** Readers of the shards readable now, keyed `<stream>/<shard id>`. */
  readonly #readers = new Map<string, ShardReader>();
  /** Streams whose position changed without a record (a shard finished, a fresh start): sent as `advance`. */
  readonly #dirty = new Set<string>();
  /** The configured start of each stream, resolved once at the first open (`latest` → that moment). */
  #initial: Map<string, StreamPosition> | undefined;
  #rotation = 0;

  constructor(config: KinesisSourceConfig, name: string, logger: Logger) {
    this.name = name;
    this.#config = config;
    this.#logger = logger;
  }

  /**
   * Connects and positions every stream: its committed position, else the configured start
   * (startTime > start). Throws NOT_FOUND (with a fix) for a stream that does not exist,
   * AUTH_FAILED for refused credentials, WATERMARK_INVALID for a watermark this source did not
   * write, ILLEGAL_STATE when already open.
   */
  async open(watermark: Watermark | null): Promise<void> {
    if (this.#api) throw new TidemarkError('ILLEGAL_STATE', `Kinesis source '${this.name}' is already open`);
    this.#initial ??= this.#resolveStart();
    this.#api = new KinesisApi(this.#config);
    try {
      await this.#position(watermark);
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  /** Drops everything read but not committed and repositions every stream at `watermark`. */
  async seek(watermark: Watermark | null): Promise<void> {
    this.#requireOpen();
    await this.#position(watermark);
  }

  /**
   * Returns records of every readable shard: first what earlier calls fetched, then one
   * GetRecords per due shard (concurrently), waiting up to `maxWaitMs` for a first record.
   * A shard read to its end is finished in its stream's position (returned in `advance`);
   * its children become readable on the next listing of the stream, which follows at once.
   */
  async read(options: ReadOptions): Promise<SourceBatch> {
    this.#requireOpen();
    const { signal } = options;
    const records: TidemarkRecord[] = [];
    const budget = { records: Math.max(1, options.maxRecords), bytes: Math.max(1, options.maxBytes) };
    const deadline = Date.now() + options.maxWaitMs;
    while (!signal.aborted) {
      await this.#listDueStreams(signal);
      this.#drain(records, budget);
      if (records.length >= budget.records || budget.bytes <= 0) break;
      const now = Date.now();
      const due = [...this.#readers.values()].filter((reader) => reader.due(now));
      if (due.length > 0) {
        await this.#fetch(due, signal);
        this.#drain(records, budget);
        if (records.length > 0) break;
        continue;
      }
      if (records.length > 0 || now >= deadline) break;
      await sleep(this.#wakeAt(deadline) - now, signal);
    }
    return this.#batch(records);
  }

  /** Nothing to do: positions live in the sink's watermark. Never throws. */
  async acknowledge(_watermark: Watermark): Promise<void> {}

  /** Releases the HTTP connections. Idempotent. */
  async close(): Promise<void> {
    this.#readers.clear();
    this.#streams.clear();
    this.#dirty.clear();
    const api = this.#api;
    this.#api = undefined;
    api?.close();
  }

  /**
   * The watermark of a deliberate reset (`tidemark watermarks reset --to`), on an unopened
   * instance: every stream restarts at the first record that arrived at or after `time`
   * (`latest`: now). Checks that the streams exist (NOT_FOUND).
   */
  async watermarkAt(target: { readonly latest: true } | { readonly time: number }): Promise<Watermark> {
    const time = 'time' in target ? target.time : Date.now();
    await checkKinesisStreams(this.#config);
    return Object.fromEntries(
      this.#config.streams.map((stream) => [stream, emptyStreamPosition(time) as unknown as JsonValue]),
    );
  }

  #resolveStart(): Map<string, StreamPosition> {
    const from = this.#config.startTime ?? (this.#config.start === 'latest' ? Date.now() : undefined);
    return new Map(this.#config.streams.map((stream) => [stream, emptyStreamPosition(from)]));
  }

  async #position(watermark: Watermark | null): Promise<void> {
    this.#readers.clear();
    this.#streams.clear();
    this.#dirty.clear();
    for (const stream of this.#config.streams) {
      const committed = parseStreamPosition(stream, watermark?.[stream]);
      if (!committed) this.#dirty.add(stream);
      const state: StreamState = {
        stream,
        tree: new ShardTree([]),
        position: committed ?? this.#initial!.get(stream)!,
        listedAt: 0,
        needsListing: true,
      };
      this.#streams.set(stream, state);
      await this.#list(state);
    }
  }

  async #listDueStreams(signal: AbortSignal): Promise<void> {
    const now = Date.now();
    for (const state of this.#streams.values()) {
      if (signal.aborted) return;
      if (!state.needsListing && now - state.listedAt < this.#config.shardRefreshMs) continue;
      try {
        await this.#list(state, signal);
      } catch (error) {
        if (signal.aborted) return;
        if (TidemarkError.hasCode(error, 'BACK_OFF')) {
          state.listedAt = now;
          continue;
        }
        throw error;
      }
    }
  }

  /** Lists the stream's shards and starts a reader for each shard that became readable. */
  async #list(state: StreamState, signal?: AbortSignal): Promise<void> {
    const shards = await this.#api!.listShards(state.stream, signal);
    state.tree = new ShardTree(shards);
    const compacted = state.tree.compact(state.position);
    if (compacted !== state.position) {
      state.position = compacted;
      this.#dirty.add(state.stream);
    }
    state.listedAt = Date.now();
    state.needsListing = false;
    for (const shard of state.tree.readable(state.position)) {
      const key = `${state.stream}/${shard.shardId}`;
      if (this.#readers.has(key)) continue;
      const start = state.tree.startOf(shard.shardId, state.position);
      this.#logger.debug({ stream: state.stream, shard: shard.shardId, start: start.type }, 'reading shard');
      this.#readers.set(key, new ShardReader(state.stream, shard.shardId, start, this.#api!, this.#config));
    }
  }

  async #fetch(due: readonly ShardReader[], signal: AbortSignal): Promise<void> {
    const outcomes = await Promise.allSettled(due.map((reader) => reader.fetch(signal)));
    for (const [index, outcome] of outcomes.entries()) {
      const reader = due[index]!;
      if (reader.backoffMs > 0) {
        this.#logger.debug(
          { stream: reader.stream, shard: reader.shardId, backoffMs: reader.backoffMs },
          'throttled',
        );
      }
      if (outcome.status === 'fulfilled' || signal.aborted) continue;
      const error = outcome.reason;
      if (isThrottling(error)) continue;
      throw toKinesisError(
        error,
        `reading shard ${reader.shardId} of stream ${reader.stream}`,
        reader.stream,
      );
    }
  }

  /** Moves pending records into `records` (shards in rotation, for fairness); finishes drained shards. */
  #drain(records: TidemarkRecord[], budget: { records: number; bytes: number }): void {
    const readers = [...this.#readers.values()];
    if (readers.length === 0) return;
    this.#rotation = (this.#rotation + 1) % readers.length;
    for (let offset = 0; offset < readers.length; offset += 1) {
      const reader = readers[(this.#rotation + offset) % readers.length]!;
      const state = this.#streams.get(reader.stream)!;
      let taken = 0;
      while (taken < reader.pending.length && records.length < budget.records && budget.bytes > 0) {
        const item = reader.pending[taken]!;
        taken += 1;
        state.position = advanceShard(state.tree, state.position, reader.shardId, item.position);
        const key = encoder.encode(item.partitionKey);
        budget.bytes -= key.byteLength + item.data.byteLength;
        records.push({
          key,
          value: item.data,
          headers: {},
          rowtime: item.arrivalTime,
          provenance: {
            'kinesis.stream': reader.stream,
            'kinesis.shard_id': reader.shardId,
            'kinesis.sequence_number': item.sequenceNumber,
            'kinesis.sub_sequence_number': item.sub,
            'kinesis.arrival_time': item.arrivalTime,
            'kinesis.partition_key': item.partitionKey,
          },
          position: { unit: reader.stream, next: state.position as unknown as JsonValue },
          ...(item.poison === undefined ? {} : { poison: item.poison }),
        });
      }
      if (taken > 0) reader.pending = reader.pending.slice(taken);
      if (reader.closed && reader.pending.length === 0) this.#finish(reader, state);
    }
  }

  #finish(reader: ShardReader, state: StreamState): void {
    state.position = state.tree.finish(reader.shardId, state.position);
    state.needsListing = true;
    this.#dirty.add(state.stream);
    this.#readers.delete(`${reader.stream}/${reader.shardId}`);
    this.#logger.info({ stream: reader.stream, shard: reader.shardId }, 'shard read to its end');
  }

  #batch(records: TidemarkRecord[]): SourceBatch {
    if (this.#dirty.size === 0) return { records };
    const advance: Record<string, JsonValue> = {};
    for (const stream of this.#dirty) {
      advance[stream] = this.#streams.get(stream)!.position as unknown as JsonValue;
    }
    this.#dirty.clear();
    return { records, advance };
  }

  #wakeAt(deadline: number): number {
    let wakeAt = deadline;
    for (const reader of this.#readers.values()) {
      if (!reader.closed && reader.pending.length === 0) wakeAt = Math.min(wakeAt, reader.nextPollAt);
    }
    for (const state of this.#streams.values()) {
      wakeAt = Math.min(wakeAt, state.listedAt + this.#config.shardRefreshMs);
    }
    return wakeAt;
  }

  #requireOpen(): void {
    if (!this.#api) {
      throw new TidemarkError('NOT_CONNECTED', `Kinesis source '${this.name}' is not open`, {
        fix: 'Call open() first (the runtime does).',
      });
    }
  }
}

/** Waits `ms` (at least 1), or less when `signal` aborts; leaves no timer behind. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(1, ms));
    signal.addEventListener('abort', done, { once: true });
  });
}
