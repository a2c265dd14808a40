/**
 * The small Kafka client surface the source uses, and its kafkajs 2.2.4 implementation (the
 * @platformatic/kafka one is in platformatic-client.ts; the `client` option chooses,
 * client-factory.ts). Everything else in this package uses these interfaces only, so the
 * client library can be swapped without touching the source's logic.
 */
import { randomUUID } from 'node:crypto';
import { createKafka, securityError } from '@tidemark/kafka';
import { type Logger, TidemarkError, withDeadline } from '@tidemark/sdk';
import type { Admin, EachBatchPayload, Kafka } from 'kafkajs';
import type { KafkaSourceConfig } from './config.js';

/** A fetched message as the source reads it; kafkajs messages fit this shape without copying. */
export interface FetchedMessage {
  readonly offset: string;
  /** Epoch milliseconds as a decimal string. */
  readonly timestamp: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers?: Readonly<Record<string, Buffer | string | (Buffer | string)[] | undefined>>;
}

/** Data messages of one partition from one fetch, in offset order; aborted data and control records removed. */
export interface FetchedBatch {
  readonly topic: string;
  readonly partition: number;
  readonly highWatermark: string;
  readonly messages: readonly FetchedMessage[];
}

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

/** Offsets of a partition under read_committed: `low` is the log start, `high` the last stable offset. */
export interface PartitionOffsets {
  readonly partition: number;
  readonly low: bigint;
  readonly high: bigint;
}

/**
 * Callbacks of a fetch session. All run synchronously inside the client's fetch loop: they
 * must not block, and must ignore calls once the session was replaced.
 */
export interface FetchHandlers {
  /** Where to start an assigned partition (the next offset to fetch); undefined: its earliest offset. */
  positionOf(topic: string, partition: number): string | undefined;
  /** Called after each (re)assignment, once the start positions were set; returns the partitions to keep paused. */
  onAssigned(partitions: readonly TopicPartition[]): readonly TopicPartition[];
  /** Data of one partition, in offset order. */
  onBatch(batch: FetchedBatch): void;
  /** The fetcher moved to `nextOffset` in a partition, counting skipped control records and aborted data. */
  onProgress(topic: string, partition: number, nextOffset: string): void;
  /** The fetch loop failed; `restarting` tells whether it retries by itself. */
  onFailure(error: Error, restarting: boolean): void;
}

export interface FetchOptions {
  readonly sessionTimeoutMs: number;
  readonly fetchMaxWaitMs: number;
  readonly maxBytesPerPartition: number;
  readonly maxBytesPerFetch: number;
}

/** A running fetch loop over a fixed set of topics, positioned by {@link FetchHandlers.positionOf}. */
export interface FetchSession {
  /**
   * Stops fetching the partitions: data already delivered stays delivered, data fetched but not
   * yet handed to `onBatch` is dropped (and fetched again after `resume`).
   */
  pause(partitions: readonly TopicPartition[]): void;
  resume(partitions: readonly TopicPartition[]): void;
  /** Stops the loop and disconnects; no handler runs after it resolves. Idempotent. */
  stop(): Promise<void>;
}

export type KafkaClientOptions = Pick<
  KafkaSourceConfig,
  'brokers' | 'clientId' | 'ssl' | 'sasl' | 'connectTimeoutMs' | 'requestTimeoutMs'
> & { readonly logger: Logger };

/**
 * Admin operations and fetch sessions on one cluster. Create (no I/O), `connect`, use,
 * `close`; calls may overlap, `close` must come last. Every method but `connectionError`
 * rejects with a TidemarkError (NOT_CONNECTED before `connect`; CONNECTION_FAILED,
 * AUTH_FAILED or TLS_FAILED from the brokers).
 */
export interface KafkaClient {
  /** Connects the admin client. Throws CONNECTION_FAILED (with a fix) within `connectTimeoutMs`. */
  connect(): Promise<void>;
  /** Names of every non-internal topic of the cluster. */
  listTopics(): Promise<string[]>;
  /** Partition numbers of each existing topic of `topics`, sorted; missing topics are absent from the map. */
  partitionsOf(topics: readonly string[]): Promise<Map<string, number[]>>;
  /** Log start and last stable offset of every partition of `topic`. */
  offsets(topic: string): Promise<PartitionOffsets[]>;
  /** Per partition of `topic`: the first offset whose timestamp is at or after `time` (the end offset when none). */
  offsetsForTime(topic: string, time: number): Promise<Map<number, bigint>>;
  /**
   * Stores `offsets` as the committed offsets of consumer group `groupId` (which must have no
   * running members). Used for monitoring only.
   */
  commitGroupOffsets(
    groupId: string,
    offsets: ReadonlyMap<string, readonly { partition: number; offset: string }[]>,
  ): Promise<void>;
  /**
   * Starts fetching every partition of `topics` (read_committed), each from
   * `handlers.positionOf`; nothing is ever committed for it. Resolves once the partitions are
   * positioned and `onAssigned` ran (a loop that fails later reports through `onFailure`).
   */
  startFetching(
    topics: readonly string[],
    handlers: FetchHandlers,
    options: FetchOptions,
  ): Promise<FetchSession>;
  /** Disconnects the admin client. Fetch sessions are stopped by their owner. Idempotent. */
  close(): Promise<void>;
  /** Wraps a failure of the library as a TidemarkError naming the brokers. */
  connectionError(error: unknown): TidemarkError;
}

/** Wraps a Kafka client failure as a TidemarkError naming the brokers: AUTH_FAILED, TLS_FAILED or CONNECTION_FAILED. */
export function sourceConnectionError(error: unknown, brokers: readonly string[]): TidemarkError {
  if (TidemarkError.isInstance(error)) return error;
  const security = securityError(error, 'Kafka source', brokers);
  if (security) return security;
  const message = error instanceof Error ? error.message : String(error);
  const list = brokers.join(',');
  return new TidemarkError('CONNECTION_FAILED', `Kafka (${list}): ${message}`, {
    cause: error,
    fix: `Check that the brokers ${list} are running and reachable from this host (config 'brokers' or TIDEMARK_KAFKA_BROKERS), and that TLS/SASL settings match the listener.`,
    details: { brokers },
  });
}

/**
 * Runs `operation` on an admin client of either library, translating its failures with
 * {@link sourceConnectionError}; NOT_CONNECTED when there is no admin (before connect).
 */
export async function adminCall<A, T>(
  admin: A | undefined,
  brokers: readonly string[],
  operation: (admin: A) => Promise<T>,
): Promise<T> {
  if (!admin) {
    throw new TidemarkError('NOT_CONNECTED', 'the Kafka source is not open', {
      fix: 'Call open() before using the source.',
    });
  }
  try {
    return await operation(admin);
  } catch (error) {
    throw sourceConnectionError(error, brokers);
  }
}

/** The topics of `topics` that exist in the cluster, in the given order. */
export async function existingTopics(client: KafkaClient, topics: readonly string[]): Promise<string[]> {
  const existing = new Set(await client.listTopics());
  return topics.filter((topic) => existing.has(topic));
}

/** The client on kafkajs 2.2.4 (`client: kafkajs`): requests multiplexed by kafkajs. */
export class KafkajsClient implements KafkaClient {
  readonly #options: KafkaClientOptions;
  readonly #kafka: Kafka;
  #admin: Admin | undefined;

  constructor(options: KafkaClientOptions) {
    this.#options = options;
    this.#kafka = createKafka(options, {
      connectTimeoutMs: options.connectTimeoutMs,
      requestTimeoutMs: options.requestTimeoutMs,
      logger: options.logger,
    });
  }

  async connect(): Promise<void> {
    const admin = this.#kafka.admin({ retry: { retries: 5, initialRetryTime: 250, maxRetryTime: 4_000 } });
    this.#admin = admin;
    try {
      const limit = this.#options.connectTimeoutMs;
      const timedOut = () => new Error(`no answer within ${limit} ms`);
      await withDeadline(admin.connect(), limit, timedOut);
      await withDeadline(admin.describeCluster(), limit, timedOut);
    } catch (error) {
      this.#admin = undefined;
      await admin.disconnect().catch(() => undefined);
      throw this.connectionError(error);
    }
  }

  async listTopics(): Promise<string[]> {
    const topics = await this.call((admin) => admin.listTopics());
    return topics.filter((topic) => !topic.startsWith('__'));
  }

  async partitionsOf(topics: readonly string[]): Promise<Map<string, number[]>> {
    const wanted = await existingTopics(this, topics);
    const result = new Map<string, number[]>();
    if (wanted.length === 0) return result;
    const metadata = await this.call((admin) => admin.fetchTopicMetadata({ topics: wanted }));
    for (const topic of metadata.topics) {
      result.set(
        topic.name,
        topic.partitions.map((partition) => partition.partitionId).sort((a, b) => a - b),
      );
    }
    return result;
  }

  async offsets(topic: string): Promise<PartitionOffsets[]> {
    const offsets = await this.call((admin) => admin.fetchTopicOffsets(topic));
    return offsets.map((entry) => ({
      partition: entry.partition,
      low: BigInt(entry.low),
      high: BigInt(entry.high),
    }));
  }

  async offsetsForTime(topic: string, time: number): Promise<Map<number, bigint>> {
    const offsets = await this.call((admin) => admin.fetchTopicOffsetsByTimestamp(topic, time));
    return new Map(offsets.map((entry) => [entry.partition, BigInt(entry.offset)]));
  }

  /** One request per topic. */
  async commitGroupOffsets(
    groupId: string,
    offsets: ReadonlyMap<string, readonly { partition: number; offset: string }[]>,
  ): Promise<void> {
    for (const [topic, partitions] of offsets) {
      await this.call((admin) => admin.setOffsets({ groupId, topic, partitions: [...partitions] }));
    }
  }

  /**
   * Fetches in a private, throwaway consumer group: the group only hands this process the
   * partitions; positions come from `handlers.positionOf` at each assignment and nothing is
   * ever committed to it. Resolves once the first assignment is done (or the loop failed).
   */
  async startFetching(
    topics: readonly string[],
    handlers: FetchHandlers,
    options: FetchOptions,
  ): Promise<FetchSession> {
    const consumer = this.#kafka.consumer({
      groupId: `tidemark-fetch-${this.#options.clientId}-${randomUUID()}`,
      sessionTimeout: options.sessionTimeoutMs,
      heartbeatInterval: Math.max(1_000, Math.floor(options.sessionTimeoutMs / 10)),
      rebalanceTimeout: options.sessionTimeoutMs * 2,
      maxWaitTimeInMs: options.fetchMaxWaitMs,
      maxBytesPerPartition: options.maxBytesPerPartition,
      maxBytes: options.maxBytesPerFetch,
      minBytes: 1,
      readUncommitted: false,
      allowAutoTopicCreation: false,
    });
    let stopped = false;
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      if (stopped) return;
      const assigned: TopicPartition[] = [];
      for (const [topic, partitions] of Object.entries(event.payload.memberAssignment)) {
        for (const partition of partitions) {
          assigned.push({ topic, partition });
          const position = handlers.positionOf(topic, partition);
          if (position !== undefined) consumer.seek({ topic, partition, offset: position });
        }
      }
      const paused = handlers.onAssigned(assigned);
      if (paused.length > 0) consumer.pause(groupByTopic(paused));
    });
    consumer.on(consumer.events.END_BATCH_PROCESS, (event) => {
      if (stopped) return;
      const { topic, partition, lastOffset } = event.payload;
      handlers.onProgress(topic, partition, String(BigInt(lastOffset) + 1n));
    });
    consumer.on(consumer.events.CRASH, (event) => {
      if (stopped) return;
      handlers.onFailure(event.payload.error, event.payload.restart);
    });
    const session: FetchSession = {
      pause(partitions) {
        if (!stopped && partitions.length > 0) consumer.pause(groupByTopic(partitions));
      },
      resume(partitions) {
        if (!stopped && partitions.length > 0) consumer.resume(groupByTopic(partitions));
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        await consumer.disconnect().catch(() => undefined);
      },
    };
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [...topics], fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: true,
        partitionsConsumedConcurrently: 1,
        eachBatch: async ({ batch }: EachBatchPayload) => {
          if (!stopped) handlers.onBatch(batch);
        },
      });
    } catch (error) {
      await session.stop();
      throw this.connectionError(error);
    }
    return session;
  }

  async close(): Promise<void> {
    const admin = this.#admin;
    this.#admin = undefined;
    await admin?.disconnect().catch(() => undefined);
  }

  private call<T>(operation: (admin: Admin) => Promise<T>): Promise<T> {
    return adminCall(this.#admin, this.#options.brokers, operation);
  }

  connectionError(error: unknown): TidemarkError {
    return sourceConnectionError(error, this.#options.brokers);
  }
}

function groupByTopic(partitions: readonly TopicPartition[]): { topic: string; partitions: number[] }[] {
  const byTopic = new Map<string, number[]>();
  for (const { topic, partition } of partitions) {
    const list = byTopic.get(topic);
    if (list) list.push(partition);
    else byTopic.set(topic, [partition]);
  }
  return [...byTopic].map(([topic, list]) => ({ topic, partitions: list }));
}
