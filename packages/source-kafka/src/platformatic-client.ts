// Over 400 lines on purpose: the fetch loop, its positions and pauses, the incremental fetch
// session and the aborted-transaction filter share one state per partition; the kafkajs client
// and the provenance columns are in their own modules.
/**
 * The source's client on `@platformatic/kafka` (`client: platformatic`), behind the same
 * interfaces as the kafkajs one (kafka-client.ts). What differs: no consumer group at all. The
 * kafkajs session joins a private, single-member group only to be handed every partition; this
 * one asks the metadata for the partitions and runs its own fetch loop on the library's
 * low-level Fetch (with incremental fetch sessions), so positions, pauses and progress are the
 * source's own. Aborted transactions are filtered here as the Java client does, whether or not
 * the abort marker is in the same response. Retries wait 20 ms first instead of the library's 1 s.
 */

import type { Admin, ClusterMetadata, Consumer, RecordsBatch } from '@platformatic/kafka';
import {
  assertPlatformaticRuns,
  errorLinks,
  loadPlatformatic,
  type PlatformaticSettings,
  platformaticOptions,
} from '@tidemark/kafka';
import { type Logger, type TidemarkError, withDeadline } from '@tidemark/sdk';
import type {
  FetchedMessage,
  FetchHandlers,
  FetchOptions,
  FetchSession,
  KafkaClient,
  KafkaClientOptions,
  PartitionOffsets,
  TopicPartition,
} from './kafka-client.js';
import { adminCall, existingTopics, sourceConnectionError } from './kafka-client.js';

type FetchResponse = Awaited<ReturnType<Consumer['fetch']>>;

/** ListOffsets timestamps of the protocol: the log start and the end. */
const EARLIEST = -2n;
const LATEST = -1n;
const READ_COMMITTED = 1;
/** Record batch attribute bits (KIP-98). */
const TIMESTAMP_LOG_APPEND = 0x08;
const TRANSACTIONAL = 0x10;
const CONTROL = 0x20;
const OFFSET_OUT_OF_RANGE = 1;

/** The client on `@platformatic/kafka`. Creating it does no I/O; the library is loaded by `connect`. */
export class PlatformaticClient implements KafkaClient {
  readonly #options: KafkaClientOptions;
  readonly #settings: PlatformaticSettings;
  #admin: Admin | undefined;

  /** Throws CONFIG_INVALID naming `client: kafkajs` on a Node the library does not support. */
  constructor(options: KafkaClientOptions) {
    assertPlatformaticRuns('kafka source');
    this.#options = options;
    this.#settings = {
      connectTimeoutMs: Math.min(options.connectTimeoutMs, options.requestTimeoutMs),
      requestTimeoutMs: options.requestTimeoutMs,
    };
  }

  async connect(): Promise<void> {
    const { Admin } = await loadPlatformatic();
    const admin = new Admin(platformaticOptions(this.#options, this.#settings));
    this.#admin = admin;
    try {
      const limit = this.#options.connectTimeoutMs;
      await withDeadline(
        admin.metadata({ topics: [] }),
        limit,
        () => new Error(`no answer within ${limit} ms`),
      );
    } catch (error) {
      this.#admin = undefined;
      await admin.close().catch(() => undefined);
      throw this.connectionError(error);
    }
  }

  async listTopics(): Promise<string[]> {
    const topics = await this.#call((admin) => admin.listTopics({ includeInternals: false }));
    return topics.filter((topic) => !topic.startsWith('__'));
  }

  async partitionsOf(topics: readonly string[]): Promise<Map<string, number[]>> {
    const wanted = await existingTopics(this, topics);
    const result = new Map<string, number[]>();
    if (wanted.length === 0) return result;
    const metadata = await this.#call((admin) => admin.metadata({ topics: wanted, forceUpdate: true }));
    for (const topic of wanted) {
      const count = metadata.topics.get(topic)?.partitionsCount;
      if (count !== undefined) result.set(topic, range(count));
    }
    return result;
  }

  async offsets(topic: string): Promise<PartitionOffsets[]> {
    const partitions = (await this.partitionsOf([topic])).get(topic) ?? [];
    const [low, high] = await Promise.all([
      this.#listOffsets(topic, partitions, EARLIEST),
      this.#listOffsets(topic, partitions, LATEST),
    ]);
    return partitions.map((partition) => ({
      partition,
      low: low.get(partition) ?? 0n,
      high: high.get(partition) ?? 0n,
    }));
  }

  async offsetsForTime(topic: string, time: number): Promise<Map<number, bigint>> {
    const partitions = (await this.partitionsOf([topic])).get(topic) ?? [];
    const [atTime, high] = await Promise.all([
      this.#listOffsets(topic, partitions, BigInt(time)),
      this.#listOffsets(topic, partitions, LATEST),
    ]);
    return new Map(
      partitions.map((partition) => {
        const offset = atTime.get(partition) ?? -1n;
        return [partition, offset < 0n ? (high.get(partition) ?? 0n) : offset];
      }),
    );
  }

  async commitGroupOffsets(
    groupId: string,
    offsets: ReadonlyMap<string, readonly { partition: number; offset: string }[]>,
  ): Promise<void> {
    const topics = [...offsets].map(([name, partitions]) => ({
      name,
      partitionOffsets: partitions.map(({ partition, offset }) => ({ partition, offset: BigInt(offset) })),
    }));
    await this.#call((admin) => admin.alterConsumerGroupOffsets({ groupId, topics }));
  }

  /** Fetches without a consumer group: see the file's comment. */
  async startFetching(
    topics: readonly string[],
    handlers: FetchHandlers,
    options: FetchOptions,
  ): Promise<FetchSession> {
    const { Consumer } = await loadPlatformatic();
    const consumer = new Consumer({
      ...platformaticOptions(this.#options, this.#settings),
      // Required by the library's consumer; never joined (nothing here speaks to a coordinator).
      groupId: `tidemark-fetch-${this.#options.clientId}`,
      autocommit: false,
      isolationLevel: READ_COMMITTED,
      maxWaitTime: options.fetchMaxWaitMs,
      minBytes: 1,
      maxBytes: options.maxBytesPerFetch,
    });
    const session = new PlatformaticFetchSession(consumer, handlers, options, this.#options.logger);
    await session.start(topics).catch((error: unknown) => {
      throw this.connectionError(error);
    });
    return session;
  }

  connectionError(error: unknown): TidemarkError {
    return sourceConnectionError(error, this.#options.brokers);
  }

  async close(): Promise<void> {
    const admin = this.#admin;
    this.#admin = undefined;
    await admin?.close().catch(() => undefined);
  }

  /** Offsets of `partitions` of `topic` at `timestamp` (or EARLIEST/LATEST), read_committed; -1 where none. */
  async #listOffsets(
    topic: string,
    partitions: readonly number[],
    timestamp: bigint,
  ): Promise<Map<number, bigint>> {
    if (partitions.length === 0) return new Map();
    const listed = await this.#call((admin) =>
      admin.listOffsets({
        topics: [
          { name: topic, partitions: partitions.map((partitionIndex) => ({ partitionIndex, timestamp })) },
        ],
        isolationLevel: READ_COMMITTED,
      }),
    );
    const found = listed.find((entry) => entry.name === topic)?.partitions ?? [];
    return new Map(found.map((entry) => [entry.partitionIndex, entry.offset]));
  }

  #call<T>(operation: (admin: Admin) => Promise<T>): Promise<T> {
    return adminCall(this.#admin, this.#options.brokers, operation);
  }
}

interface Position {
  readonly topic: string;
  readonly partition: number;
  /** Next offset to fetch. */
  next: bigint;
}

/**
 * A fetch loop over fixed partitions: one Fetch at a time per leader broker, for the partitions
 * it leads that are not paused, at each partition's position; whenever a Fetch completes (its
 * data handed to the handlers), the next one to that broker is sent, so a broker without new
 * data (waiting `fetchMaxWaitMs`) never holds up the others. Idles while every partition is
 * paused. A Fetch the library could not complete with its retries ends the loop with
 * `onFailure(error, false)`; a position out of range (data removed by retention) moves to the
 * log start, as the kafkajs consumer does.
 */
class PlatformaticFetchSession implements FetchSession {
  readonly #consumer: Consumer;
  readonly #handlers: FetchHandlers;
  readonly #options: FetchOptions;
  readonly #logger: Logger;
  readonly #positions = new Map<string, Position>();
  readonly #paused = new Set<string>();
  #topics: string[] = [];
  readonly #assigned: TopicPartition[] = [];
  #stopped = false;
  #loop: Promise<void> | undefined;
  /** Brokers with a Fetch under way, and the partitions it asks for. */
  readonly #busyNodes = new Set<number>();
  readonly #busyPartitions = new Set<string>();
  /** Something changed since the loop last looked (a resume, a Fetch done, a stop). */
  #changed = false;
  #wake: (() => void) | undefined;

  constructor(consumer: Consumer, handlers: FetchHandlers, options: FetchOptions, logger: Logger) {
    this.#consumer = consumer;
    this.#handlers = handlers;
    this.#options = options;
    this.#logger = logger;
  }

  /** Positions every partition of `topics`, runs `onAssigned`, then starts the loop. Stops itself when it fails. */
  async start(topics: readonly string[]): Promise<void> {
    try {
      await this.#position(topics);
    } catch (error) {
      await this.stop();
      throw error;
    }
    if (this.#stopped) return;
    for (const entry of this.#handlers.onAssigned(this.#assigned))
      this.#paused.add(keyOf(entry.topic, entry.partition));
    this.#loop = this.#run();
  }

  async #position(topics: readonly string[]): Promise<void> {
    this.#topics = [...topics];
    this.#consumer.topics.trackAll(...this.#topics);
    const metadata = await this.#consumer.metadata({ topics: this.#topics, forceUpdate: true });
    const assigned = this.#assigned;
    const fromStart = new Map<string, number[]>();
    for (const topic of this.#topics) {
      for (const partition of range(metadata.topics.get(topic)?.partitionsCount ?? 0)) {
        assigned.push({ topic, partition });
        const position = this.#handlers.positionOf(topic, partition);
        this.#positions.set(keyOf(topic, partition), {
          topic,
          partition,
          next: position === undefined ? -1n : BigInt(position),
        });
        if (position === undefined) fromStart.set(topic, [...(fromStart.get(topic) ?? []), partition]);
      }
    }
    if (fromStart.size > 0) await this.#moveToStart(fromStart);
  }

  pause(partitions: readonly TopicPartition[]): void {
    for (const { topic, partition } of partitions) this.#paused.add(keyOf(topic, partition));
  }

  resume(partitions: readonly TopicPartition[]): void {
    for (const { topic, partition } of partitions) this.#paused.delete(keyOf(topic, partition));
    this.#notify();
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#notify();
    await this.#consumer.close(true).catch(() => undefined);
    await this.#loop;
  }

  #notify(): void {
    this.#changed = true;
    this.#wake?.();
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      this.#changed = false;
      try {
        const ready = [...this.#positions].filter(
          ([key]) => !this.#paused.has(key) && !this.#busyPartitions.has(key),
        );
        if (ready.length > 0) {
          const metadata = await this.#consumer.metadata({ topics: this.#topics });
          if (this.#stopped) return;
          const byNode = new Map<number, Position[]>();
          for (const [, position] of ready) {
            const leader = metadata.topics.get(position.topic)?.partitions[position.partition]?.leader ?? -1;
            if (this.#busyNodes.has(leader)) continue;
            const list = byNode.get(leader);
            if (list) list.push(position);
            else byNode.set(leader, [position]);
          }
          for (const [node, positions] of byNode) this.#startFetch(metadata, node, positions);
        }
      } catch (error) {
        this.#fail(error);
        return;
      }
      if (!this.#changed && !this.#stopped) {
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
        this.#wake = undefined;
      }
    }
  }

  /** Sends one Fetch to `node`; when it is done, the loop looks again. */
  #startFetch(metadata: ClusterMetadata, node: number, positions: readonly Position[]): void {
    const keys = positions.map((position) => keyOf(position.topic, position.partition));
    this.#busyNodes.add(node);
    for (const key of keys) this.#busyPartitions.add(key);
    this.#fetchFrom(metadata, node, positions).then(
      () => {
        this.#busyNodes.delete(node);
        for (const key of keys) this.#busyPartitions.delete(key);
        this.#notify();
      },
      (error: unknown) => this.#fail(error),
    );
  }

  /** Ends the loop on a failure (once; nothing after a stop) and reports it. */
  #fail(error: unknown): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#notify();
    this.#handlers.onFailure(error instanceof Error ? error : new Error(String(error)), false);
    void this.#consumer.close(true).catch(() => undefined);
  }

  /** One Fetch of `positions` from broker `node`; delivers its data and progress. */
  async #fetchFrom(metadata: ClusterMetadata, node: number, positions: readonly Position[]): Promise<void> {
    const requested = new Map(
      positions.map((position) => [keyOf(position.topic, position.partition), position.next]),
    );
    const byTopic = new Map<string, Position[]>();
    for (const position of positions)
      byTopic.set(position.topic, [...(byTopic.get(position.topic) ?? []), position]);
    const names = new Map<string, string>();
    const topics = [...byTopic].map(([topic, list]) => {
      const topicId = metadata.topics.get(topic)?.id ?? topic;
      names.set(topicId, topic);
      return {
        topicId,
        partitions: list.map((position) => ({
          partition: position.partition,
          fetchOffset: position.next,
          partitionMaxBytes: this.#options.maxBytesPerPartition,
          currentLeaderEpoch: -1,
          lastFetchedEpoch: -1,
        })),
      };
    });
    let response: FetchResponse;
    try {
      response = await this.#consumer.fetch({ node, topics });
    } catch (error) {
      if (this.#stopped) return;
      if (await this.#recoverOutOfRange(error, names)) return;
      throw error;
    }
    if (this.#stopped) return;
    for (const topicResponse of response.responses) {
      const topic = names.get(topicResponse.topicId) ?? topicResponse.topicId;
      for (const partitionResponse of topicResponse.partitions) {
        const key = keyOf(topic, partitionResponse.partitionIndex);
        const position = this.#positions.get(key);
        const from = requested.get(key);
        // Data of a partition paused meanwhile is dropped unread: it is fetched again on resume.
        if (
          this.#stopped ||
          !position ||
          from === undefined ||
          position.next !== from ||
          this.#paused.has(key)
        )
          continue;
        const batches = partitionResponse.records ?? [];
        if (batches.length === 0) continue;
        const { messages, next } = committedMessages(
          batches,
          partitionResponse.abortedTransactions ?? [],
          from,
        );
        if (next <= from) continue;
        position.next = next;
        if (messages.length > 0) {
          this.#handlers.onBatch({
            topic,
            partition: partitionResponse.partitionIndex,
            highWatermark: String(partitionResponse.highWatermark),
            messages,
          });
        }
        if (!this.#stopped) this.#handlers.onProgress(topic, partitionResponse.partitionIndex, String(next));
      }
    }
  }

  /** For each partition a Fetch refused as OFFSET_OUT_OF_RANGE: moves it to its log start. True when it did. */
  async #recoverOutOfRange(error: unknown, names: ReadonlyMap<string, string>): Promise<boolean> {
    const moved = new Map<string, number[]>();
    for (const link of errorLinks(error)) {
      const response = link.response as FetchResponse | undefined;
      if (!response || !Array.isArray(response.responses)) continue;
      for (const topicResponse of response.responses) {
        const topic = names.get(topicResponse.topicId) ?? topicResponse.topicId;
        for (const { partitionIndex, errorCode } of topicResponse.partitions) {
          if (errorCode !== OFFSET_OUT_OF_RANGE) continue;
          moved.set(topic, [...(moved.get(topic) ?? []), partitionIndex]);
        }
      }
      break;
    }
    if (moved.size === 0) return false;
    for (const [topic, partitions] of moved) {
      for (const partition of partitions) {
        this.#logger.warn(
          { topic, partition, offset: String(this.#positions.get(keyOf(topic, partition))?.next) },
          'Kafka position out of range (data removed by retention?); fetching from the log start',
        );
      }
    }
    await this.#moveToStart(moved);
    return true;
  }

  /** Sets the position of `partitions` (by topic) to their log start. */
  async #moveToStart(partitions: ReadonlyMap<string, number[]>): Promise<void> {
    const offsets = await this.#consumer.listOffsets({
      topics: [...partitions.keys()],
      partitions: Object.fromEntries(partitions),
      timestamp: EARLIEST,
      isolationLevel: READ_COMMITTED,
    });
    for (const [topic, list] of partitions) {
      for (const partition of list) {
        const position = this.#positions.get(keyOf(topic, partition));
        const start = offsets.get(topic)?.[partition];
        if (position && start !== undefined && start >= 0n) position.next = start;
      }
    }
  }
}

/**
 * The data records of `batches` at or after offset `from`, leaving out control batches and the
 * batches of aborted transactions, and the offset after the last batch. A transaction listed
 * as aborted covers its producer's transactional batches from its first offset up to the
 * producer's abort marker, which may lie beyond this response (then everything of it here is
 * aborted: the broker only returns data below the last stable offset).
 */
export function committedMessages(
  batches: readonly RecordsBatch[],
  aborted: readonly { producerId: bigint; firstOffset: bigint }[],
  from: bigint,
): { messages: FetchedMessage[]; next: bigint } {
  const pending = [...aborted].sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : 1));
  const abortedProducers = new Set<bigint>();
  const messages: FetchedMessage[] = [];
  let next = from;
  for (const batch of batches) {
    const last = batch.firstOffset + BigInt(batch.lastOffsetDelta);
    if (last + 1n > next) next = last + 1n;
    // Every batch of a producer (its abort marker included) opens the aborted transactions of
    // that producer it reaches: the library may already have removed the aborted data itself.
    if (batch.producerId >= 0n) {
      while (pending.length > 0 && pending[0]!.firstOffset <= last) {
        abortedProducers.add(pending.shift()!.producerId);
      }
    }
    if (batch.attributes & CONTROL) {
      // Control record key: version (int16), type (int16: 0 abort, 1 commit).
      const marker = batch.records[0]?.key;
      if (marker && marker.length >= 4 && marker.readInt16BE(2) === 0)
        abortedProducers.delete(batch.producerId);
      continue;
    }
    if (batch.attributes & TRANSACTIONAL && abortedProducers.has(batch.producerId)) continue;
    const logAppendTime = (batch.attributes & TIMESTAMP_LOG_APPEND) !== 0;
    for (const record of batch.records) {
      const offset = batch.firstOffset + BigInt(record.offsetDelta);
      if (offset < from) continue;
      const headers: Record<string, Buffer> = {};
      for (const [name, value] of record.headers) {
        if (name && value) headers[name.toString('utf8')] = value;
      }
      messages.push({
        offset: String(offset),
        timestamp: String(logAppendTime ? batch.maxTimestamp : batch.firstTimestamp + record.timestampDelta),
        key: record.key,
        value: record.value,
        headers,
      });
    }
  }
  return { messages, next };
}

function keyOf(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

function range(count: number): number[] {
  return Array.from({ length: count }, (_, index) => index);
}
