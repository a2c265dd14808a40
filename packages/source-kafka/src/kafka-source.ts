// Over 400 lines on purpose: partition bookkeeping (discovery, positions, the record queue's
// pause/resume, monitoring commits) shares one map of partition states; the client adapters
// (kafka-client.ts, platformatic-client.ts), start rules (start-position.ts), the queue and
// record building (provenance.ts) live in their own files.
import {
  type ConnectorContext,
  type Logger,
  parseConnectorConfig,
  type ReadOptions,
  type Source,
  type SourceBatch,
  type SourceCapabilities,
  silentLogger,
  sleep,
  sliceOwns,
  TidemarkError,
  type TidemarkRecord,
  type Watermark,
} from '@tidemark/sdk';
import { createKafkaClient } from './client-factory.js';
import { type KafkaSourceConfig, type KafkaSourceConfigInput, kafkaSourceConfigSchema } from './config.js';
import type { FetchedBatch, FetchSession, KafkaClient, TopicPartition } from './kafka-client.js';
import { KAFKA_PROVENANCE, toRecord } from './provenance.js';
import { RecordQueue } from './record-queue.js';
import { chooseStartRule, parseOffset, resolveStart, unitOf } from './start-position.js';

/** How often acknowledged positions are copied to the monitoring group, at most. */
const MONITORING_INTERVAL_MS = 5_000;

interface PartitionState {
  readonly topic: string;
  readonly partition: number;
  readonly unit: string;
  /** Where the partition started when it was first seen: the target of seek(null) for it. */
  readonly initial: bigint;
  /** Next offset accepted into the queue; anything below it was queued (or skipped) already. */
  fetchNext: bigint;
  /** How far the fetcher got, counting control records and aborted data. */
  progress: bigint;
  /** Position after the last record `read` returned. */
  delivered: bigint;
  /** Latest high watermark seen, for lag. */
  highWatermark: bigint;
  /** With stopAtEnd: the partition's end offset at open; nothing at or after it is read. */
  readonly end: bigint | undefined;
}

/**
 * Creates an unopened Kafka source for programmatic use from options as written in YAML:
 * parses them (a ConfigError lists every problem), then creates, as every connector factory
 * does. The YAML runtime goes through the connector's `create` with options already parsed.
 */
export function createKafkaSource(
  config: KafkaSourceConfigInput,
  name: string,
  context: Partial<ConnectorContext> = {},
): Source {
  const parsed = parseConnectorConfig(
    { type: 'kafka', packageName: '@tidemark/source-kafka', configSchema: kafkaSourceConfigSchema },
    config,
    name,
  );
  return new KafkaSource(parsed, name, context.logger ?? silentLogger);
}

/**
 * Reads Kafka topics with read_committed isolation, positioned per partition by the runtime's
 * watermark (unit `<topic>/<partition>`, position = next offset). The client (`client` option:
 * client-factory.ts) only fetches: nothing is committed for it, and every start of its fetcher
 * (or, with kafkajs, every group reassignment) positions each partition at this source's own
 * next offset.
 */
export class KafkaSource implements Source {
  readonly name: string;
  readonly provenance = KAFKA_PROVENANCE;
  readonly capabilities: SourceCapabilities;

  readonly #config: KafkaSourceConfig;
  readonly #logger: Logger;
  readonly #queue = new RecordQueue();
  readonly #partitions = new Map<string, PartitionState>();
  #client: KafkaClient | undefined;
  #session: FetchSession | undefined;
  #sessionToken: object | undefined;
  #assigned: readonly TopicPartition[] = [];
  #paused = false;
  #failure: TidemarkError | undefined;
  #open = false;
  /** The watermark of the last open/seek: where partitions discovered later start. */
  #baseWatermark: Watermark | null = null;
  #refreshTimer: NodeJS.Timeout | undefined;
  #chain: Promise<unknown> = Promise.resolve();
  #wake: (() => void) | undefined;
  #monitoring: {
    latest?: Watermark;
    lastAt: number;
    pending?: Promise<void>;
    committed: Map<string, string>;
  } = {
    lastAt: 0,
    committed: new Map(),
  };

  constructor(config: KafkaSourceConfig, name: string, logger: Logger) {
    this.name = name;
    this.#config = config;
    this.#logger = logger;
    this.capabilities = Object.freeze({ replay: 'seek', exactlyOnce: true, bounded: config.stopAtEnd });
  }

  /**
   * Connects, discovers the partitions and positions each one: the committed watermark wins for
   * the partitions it covers; others start by startPositions > startOffset > startTime >
   * start. Throws CONNECTION_FAILED within `connectTimeoutMs` when the brokers cannot be reached,
   * CONFIG_INVALID when a listed topic does not exist, WATERMARK_INVALID for a watermark that
   * does not fit the topic, ILLEGAL_STATE when already open.
   */
  open(watermark: Watermark | null): Promise<void> {
    return this.#exclusive(async () => {
      if (this.#open) throw new TidemarkError('ILLEGAL_STATE', `Kafka source '${this.name}' is already open`);
      const client = createKafkaClient({ ...this.#config, logger: this.#logger });
      await client.connect();
      this.#client = client;
      this.#open = true;
      try {
        this.#baseWatermark = watermark;
        const topics = await this.#discoverTopics(true);
        const partitionsByTopic = await client.partitionsOf(topics);
        for (const topic of topics) await this.#addTopic(topic, partitionsByTopic.get(topic) ?? [], false);
        await this.#startSession();
        if (!this.#config.stopAtEnd) {
          this.#refreshTimer = setInterval(() => void this.#refresh(), this.#config.metadataRefreshMs);
          this.#refreshTimer.unref();
        }
      } catch (error) {
        await this.#shutdown();
        throw error;
      }
    });
  }

  /**
   * Translates a deliberate reset target into a watermark of this source, without opening it
   * (`tidemark watermarks reset --to latest|<time>`): per partition of every matching topic,
   * the end offset (`latest`) or the first offset whose timestamp is at or after `time` (the
   * end when there is none). Connects briefly; may run while the source is closed.
   */
  async watermarkAt(target: { readonly latest: true } | { readonly time: number }): Promise<Watermark> {
    const client = createKafkaClient({ ...this.#config, logger: this.#logger });
    await client.connect();
    try {
      const topics =
        this.#config.topicPattern === undefined
          ? [...(this.#config.topics ?? [])]
          : (await client.listTopics()).filter((topic) => new RegExp(this.#config.topicPattern!).test(topic));
      const watermark: Record<string, string> = {};
      for (const topic of topics) {
        const ends = await client.offsets(topic);
        const byTime = 'time' in target ? await client.offsetsForTime(topic, target.time) : undefined;
        for (const { partition, high } of ends) {
          const atTime = byTime?.get(partition);
          const next = atTime === undefined || atTime < 0n || atTime > high ? high : atTime;
          watermark[unitOf(topic, partition)] = String(next);
        }
      }
      return watermark;
    } finally {
      await client.close();
    }
  }

  /**
   * Returns the records after everything returned so far, in offset order per partition,
   * waiting up to `maxWaitMs` for the first one. Returns an empty batch promptly on abort.
   * Throws NOT_CONNECTED before open, or the fetch failure (retriable CONNECTION_FAILED) that
   * stopped the fetcher: the runtime then seeks, which restarts fetching.
   */
  async read(options: ReadOptions): Promise<SourceBatch> {
    if (!this.#open) throw notOpen(this.name);
    if (this.#failure) throw this.#failure;
    if (this.#queue.count === 0 && !this.#finished() && !options.signal.aborted) {
      await this.#waitForRecords(options);
      if (!this.#open) throw notOpen(this.name);
      if (this.#failure) throw this.#failure;
    }
    if (options.signal.aborted) return { records: [] };
    const records = this.#queue.take(options.maxRecords, options.maxBytes);
    this.#noteDelivered(records);
    this.#resumeIfDrained();
    if (this.#queue.count === 0 && this.#finished()) return { records, end: true };
    return { records };
  }

  /**
   * Discards everything fetched but not returned and repositions every partition just after
   * `watermark` (partitions it does not cover, or all with null: where they first started).
   * Restarts the fetcher, so no record fetched before the seek can surface after it.
   */
  seek(watermark: Watermark | null): Promise<void> {
    return this.#exclusive(async () => {
      if (!this.#open) throw notOpen(this.name);
      await this.#stopSession();
      this.#queue.clear();
      this.#failure = undefined;
      this.#paused = false;
      this.#baseWatermark = watermark;
      for (const state of this.#partitions.values()) {
        const committed = watermark?.[state.unit];
        const target = committed === undefined ? state.initial : parseOffset(committed, state.unit);
        state.fetchNext = target;
        state.progress = target;
        state.delivered = target;
      }
      await this.#startSession();
    });
  }

  /**
   * Notes a committed watermark. With `monitoringGroup`, copies its offsets to that consumer
   * group in the background (at most every few seconds) so lag tools show progress; failures
   * are logged, never thrown. Correctness never depends on it.
   */
  async acknowledge(watermark: Watermark): Promise<void> {
    const group = this.#config.monitoringGroup;
    if (group === undefined || !this.#open) return;
    this.#monitoring.latest = watermark;
    if (this.#monitoring.pending || Date.now() - this.#monitoring.lastAt < MONITORING_INTERVAL_MS) return;
    const pending = this.#commitMonitoring(group).finally(() => {
      if (this.#monitoring.pending === pending) delete this.#monitoring.pending;
    });
    this.#monitoring.pending = pending;
  }

  /** Stops fetching, the metadata refresh and the admin client. Idempotent; open works again after it. */
  close(): Promise<void> {
    if (this.#refreshTimer) clearInterval(this.#refreshTimer);
    this.#refreshTimer = undefined;
    return this.#exclusive(() => this.#shutdown());
  }

  /** Records between each partition's high watermark (as last seen) and the position read; no I/O. */
  async lag(): Promise<number | undefined> {
    if (!this.#open) return undefined;
    let lag = 0n;
    for (const state of this.#partitions.values()) {
      const top = state.end ?? state.highWatermark;
      if (top > state.delivered) lag += top - state.delivered;
    }
    return Number(lag);
  }

  #exclusive<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.#chain.then(operation);
    this.#chain = result.catch(() => undefined);
    return result;
  }

  async #shutdown(): Promise<void> {
    if (this.#refreshTimer) clearInterval(this.#refreshTimer);
    this.#refreshTimer = undefined;
    this.#open = false;
    await this.#stopSession();
    await this.#monitoring.pending;
    await this.#client?.close();
    this.#client = undefined;
    this.#queue.clear();
    this.#partitions.clear();
    this.#failure = undefined;
    this.#paused = false;
    this.#monitoring = { lastAt: 0, committed: new Map() };
    this.#wakeReader();
  }

  /** Topics to read now: the configured list (all must exist) or the pattern's current matches. */
  async #discoverTopics(strict: boolean): Promise<string[]> {
    const client = this.#requireClient();
    if (this.#config.topicPattern !== undefined) {
      const pattern = new RegExp(this.#config.topicPattern);
      return (await client.listTopics()).filter((topic) => pattern.test(topic)).sort();
    }
    const topics = this.#config.topics ?? [];
    if (strict) {
      const existing = new Set(await client.listTopics());
      const missing = topics.filter((topic) => !existing.has(topic));
      if (missing.length > 0) {
        throw new TidemarkError('CONFIG_INVALID', `Kafka topic(s) ${missing.join(', ')} do not exist`, {
          fix: 'Create the topics first or correct the names in the source configuration.',
          details: { missing },
        });
      }
    }
    return [...topics];
  }

  /** Registers the partitions of `topic` that are not known yet, resolving where each starts. */
  async #addTopic(topic: string, partitions: readonly number[], discoveredLater: boolean): Promise<number> {
    const fresh = partitions.filter(
      (partition) => !this.#partitions.has(unitOf(topic, partition)) && this.#owns(partition),
    );
    if (fresh.length === 0) return 0;
    const client = this.#requireClient();
    const offsets = new Map((await client.offsets(topic)).map((entry) => [entry.partition, entry]));
    const rules = fresh.map((partition) => ({
      partition,
      rule: chooseStartRule(topic, partition, this.#baseWatermark, this.#config, discoveredLater),
    }));
    const timeRule = rules.find(({ rule }) => rule.kind === 'startTime')?.rule;
    const offsetsForTime =
      timeRule?.kind === 'startTime'
        ? await client.offsetsForTime(topic, timeRule.time)
        : new Map<number, bigint>();
    for (const { partition, rule } of rules) {
      const unit = unitOf(topic, partition);
      const bounds = offsets.get(partition) ?? { low: 0n, high: 0n };
      const start = resolveStart(unit, rule, bounds, offsetsForTime.get(partition));
      if (start.clamped) {
        this.#logger.warn(
          {
            source: this.name,
            unit,
            rule: rule.kind,
            start: String(start.offset),
            low: String(bounds.low),
            high: String(bounds.high),
          },
          'start offset outside the partition; moved to its nearest end',
        );
      }
      this.#partitions.set(unit, {
        topic,
        partition,
        unit,
        initial: start.offset,
        fetchNext: start.offset,
        progress: start.offset,
        delivered: start.offset,
        highWatermark: bounds.high,
        end: this.#config.stopAtEnd ? bounds.high : undefined,
      });
    }
    return fresh.length;
  }

  /**
   * Looks for new partitions and (with a pattern) new topics and restarts fetching to include
   * them; also restarts a fetcher that a previous refresh failed to start. Failures are logged
   * and retried on the next tick.
   */
  #refresh(): Promise<void> {
    return this.#exclusive(async () => {
      if (!this.#open) return;
      try {
        const topics = await this.#discoverTopics(false);
        const partitionsByTopic = await this.#requireClient().partitionsOf(topics);
        let added = 0;
        for (const [topic, partitions] of partitionsByTopic)
          added += await this.#addTopic(topic, partitions, true);
        if (added === 0 && this.#session) return;
        if (added > 0) {
          this.#logger.info(
            { source: this.name, added },
            'new Kafka partitions found; fetching them from their start',
          );
        }
        await this.#stopSession();
        await this.#startSession();
      } catch (error) {
        this.#logger.warn(
          { source: this.name, error: String(error) },
          'Kafka metadata refresh failed; retrying later',
        );
      }
    }).catch(() => undefined);
  }

  async #startSession(): Promise<void> {
    const topics = [...new Set([...this.#partitions.values()].map((state) => state.topic))];
    if (topics.length === 0 || this.#allEnded()) return;
    const token = {};
    this.#sessionToken = token;
    const current = () => this.#sessionToken === token;
    this.#session = await this.#requireClient().startFetching(
      topics,
      {
        positionOf: (topic, partition) => {
          const state = this.#partitions.get(unitOf(topic, partition));
          return state ? String(state.fetchNext) : undefined;
        },
        onAssigned: (partitions) => {
          if (!current()) return [];
          this.#assigned = partitions.filter((entry) => this.#owns(entry.partition));
          return partitions.filter(
            (entry) =>
              !this.#owns(entry.partition) ||
              this.#paused ||
              this.#hasEnded(this.#partitions.get(unitOf(entry.topic, entry.partition))),
          );
        },
        onBatch: (batch) => {
          if (current()) this.#accept(batch);
        },
        onProgress: (topic, partition, nextOffset) => {
          if (current()) this.#noteProgress(topic, partition, BigInt(nextOffset));
        },
        onFailure: (error, restarting) => {
          if (!current()) return;
          const failure = this.#requireClient().connectionError(error);
          if (restarting) {
            this.#logger.warn(
              { source: this.name, error: failure.message },
              'Kafka fetcher failed; it restarts by itself',
            );
            return;
          }
          this.#failure = failure;
          this.#wakeReader();
        },
      },
      {
        sessionTimeoutMs: this.#config.sessionTimeoutMs,
        fetchMaxWaitMs: this.#config.fetchMaxWaitMs,
        maxBytesPerPartition: this.#config.maxBytesPerPartition,
        maxBytesPerFetch: this.#config.maxBytesPerFetch,
      },
    );
  }

  async #stopSession(): Promise<void> {
    const session = this.#session;
    this.#session = undefined;
    this.#sessionToken = undefined;
    this.#assigned = [];
    await session?.stop();
  }

  /** True when this source's task slice includes `partition` (always without a slice). */
  #owns(partition: number): boolean {
    return sliceOwns(this.#config.task, partition);
  }

  #accept(batch: FetchedBatch): void {
    if (!this.#owns(batch.partition)) return;
    const unit = unitOf(batch.topic, batch.partition);
    let state = this.#partitions.get(unit);
    if (!state) {
      state = {
        topic: batch.topic,
        partition: batch.partition,
        unit,
        initial: 0n,
        fetchNext: 0n,
        progress: 0n,
        delivered: 0n,
        highWatermark: 0n,
        end: undefined,
      };
      this.#partitions.set(unit, state);
    }
    state.highWatermark = BigInt(batch.highWatermark);
    let next = state.fetchNext;
    const records: TidemarkRecord[] = [];
    for (const message of batch.messages) {
      const offset = BigInt(message.offset);
      if (offset < next) continue;
      if (state.end !== undefined && offset >= state.end) break;
      next = offset + 1n;
      records.push(toRecord(state, message, next));
    }
    state.fetchNext = next;
    if (next > state.progress) state.progress = next;
    this.#queue.push(records);
    if (this.#hasEnded(state)) this.#session?.pause([state]);
    if (
      !this.#paused &&
      (this.#queue.count >= this.#config.bufferMaxRecords || this.#queue.bytes >= this.#config.bufferMaxBytes)
    ) {
      this.#paused = true;
      this.#session?.pause(this.#assigned);
    }
    if (records.length > 0 || this.#finished()) this.#wakeReader();
  }

  #noteProgress(topic: string, partition: number, nextOffset: bigint): void {
    const state = this.#partitions.get(unitOf(topic, partition));
    if (!state || nextOffset <= state.progress) return;
    state.progress = nextOffset;
    if (this.#hasEnded(state)) {
      this.#session?.pause([state]);
      if (this.#finished()) this.#wakeReader();
    }
  }

  #noteDelivered(records: readonly TidemarkRecord[]): void {
    if (records.length === 0) return;
    const last = new Map<string, string>();
    for (const record of records) last.set(record.position.unit, record.position.next as string);
    for (const [unit, next] of last) {
      const state = this.#partitions.get(unit);
      if (state) state.delivered = BigInt(next);
    }
  }

  #resumeIfDrained(): void {
    if (!this.#paused) return;
    if (
      this.#queue.count > this.#config.bufferMaxRecords / 2 ||
      this.#queue.bytes > this.#config.bufferMaxBytes / 2
    )
      return;
    this.#paused = false;
    const active = this.#assigned.filter(
      (entry) => !this.#hasEnded(this.#partitions.get(unitOf(entry.topic, entry.partition))),
    );
    this.#session?.resume(active);
  }

  #hasEnded(state: PartitionState | undefined): boolean {
    return state?.end !== undefined && (state.fetchNext >= state.end || state.progress >= state.end);
  }

  #allEnded(): boolean {
    if (!this.#config.stopAtEnd) return false;
    for (const state of this.#partitions.values()) if (!this.#hasEnded(state)) return false;
    return true;
  }

  /** Bounded mode only: every partition reached its end offset. */
  #finished(): boolean {
    return this.#config.stopAtEnd && this.#allEnded();
  }

  /** Waits up to `maxWaitMs` for records, or less when records arrive or `signal` aborts. */
  async #waitForRecords(options: ReadOptions): Promise<void> {
    const arrived = new AbortController();
    this.#wake = () => arrived.abort();
    await sleep(options.maxWaitMs, AbortSignal.any([options.signal, arrived.signal]));
    this.#wake = undefined;
  }

  #wakeReader(): void {
    this.#wake?.();
  }

  async #commitMonitoring(group: string): Promise<void> {
    const watermark = this.#monitoring.latest;
    const client = this.#client;
    if (!watermark || !client) return;
    this.#monitoring.lastAt = Date.now();
    const byTopic = new Map<string, { partition: number; offset: string }[]>();
    const changed: [string, string][] = [];
    for (const state of this.#partitions.values()) {
      const position = watermark[state.unit];
      if (typeof position !== 'string' || this.#monitoring.committed.get(state.unit) === position) continue;
      const list = byTopic.get(state.topic) ?? [];
      list.push({ partition: state.partition, offset: position });
      byTopic.set(state.topic, list);
      changed.push([state.unit, position]);
    }
    if (byTopic.size === 0) return;
    try {
      await client.commitGroupOffsets(group, byTopic);
      for (const [unit, position] of changed) this.#monitoring.committed.set(unit, position);
    } catch (error) {
      this.#logger.warn(
        { source: this.name, group, error: String(error) },
        'could not copy positions to the monitoring group',
      );
    }
  }

  #requireClient(): KafkaClient {
    if (!this.#client) throw notOpen(this.name);
    return this.#client;
  }
}

function notOpen(name: string): TidemarkError {
  return new TidemarkError('NOT_CONNECTED', `Kafka source '${name}' is not open`, {
    fix: 'The runtime opens sources before reading; call open() first (again after close()).',
  });
}
