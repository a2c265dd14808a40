/**
 * The one place that speaks kafkajs. Everything else in this package uses the small interface
 * below, so the client library (no longer maintained) can be swapped without touching the
 * source's logic.
 */
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import type { ConnectionOptions } from 'node:tls';
import { type Logger, TidemarkError } from '@tidemark/sdk';
import type { Admin, EachBatchPayload, KafkaConfig, LogEntry, SASLOptions } from 'kafkajs';
import kafkajs from 'kafkajs';
import type { KafkaSourceConfig } from './config.js';

const { Kafka, logLevel } = kafkajs;

const PATCHED = Symbol.for('tidemark.kafkajs.idle-timer-fix');

/**
 * kafkajs 2.2.4 re-arms a 1 ms timer forever on every idle connection (its request queue
 * schedules a "throttle check" with a negative delay even when nothing is pending: ~850 timers
 * a second per connection, and a loop that can outlive a closed connection). With nothing
 * pending there is nothing to check (a queued request schedules its own check), so the check
 * is skipped then. Applied once per process, whichever copy of this package loads first.
 */
function fixIdleTimerLoop(): void {
  const require = createRequire(import.meta.url);
  const requestQueue = require('kafkajs/src/network/requestQueue/index.js') as {
    prototype: Record<PropertyKey, unknown> & {
      scheduleCheckPendingRequests: (this: { pending: unknown[] }) => void;
    };
  };
  const prototype = requestQueue.prototype;
  if (prototype[PATCHED]) return;
  const schedule = prototype.scheduleCheckPendingRequests;
  prototype.scheduleCheckPendingRequests = function scheduleWhenPending(this: { pending: unknown[] }) {
    if (this.pending.length > 0) schedule.call(this);
  };
  prototype[PATCHED] = true;
}

fixIdleTimerLoop();

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
  /** Stops fetching the partitions (data already delivered stays delivered). */
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
 * Admin operations and fetch sessions on one cluster. Create, `connect`, use, `close`; calls
 * may overlap (kafkajs multiplexes requests), `close` must come last.
 */
export class KafkaClient {
  readonly #options: KafkaClientOptions;
  readonly #kafka: InstanceType<typeof Kafka>;
  #admin: Admin | undefined;

  constructor(options: KafkaClientOptions) {
    this.#options = options;
    const config: KafkaConfig = {
      brokers: [...options.brokers],
      clientId: options.clientId,
      connectionTimeout: Math.min(options.connectTimeoutMs, 3_000),
      requestTimeout: options.requestTimeoutMs,
      retry: { retries: 5, initialRetryTime: 250, maxRetryTime: 4_000 },
      logLevel: logLevel.INFO,
      logCreator: () => (entry: LogEntry) => forwardLog(options.logger, entry),
    };
    const ssl = tlsOptions(options.ssl);
    if (ssl !== undefined) config.ssl = ssl;
    if (options.sasl) config.sasl = { ...options.sasl } as SASLOptions;
    this.#kafka = new Kafka(config);
  }

  /** Connects the admin client. Throws CONNECTION_FAILED (with a fix) within `connectTimeoutMs`. */
  async connect(): Promise<void> {
    const admin = this.#kafka.admin({ retry: { retries: 5, initialRetryTime: 250, maxRetryTime: 4_000 } });
    this.#admin = admin;
    try {
      await withDeadline(admin.connect(), this.#options.connectTimeoutMs);
      await withDeadline(admin.describeCluster(), this.#options.connectTimeoutMs);
    } catch (error) {
      this.#admin = undefined;
      await admin.disconnect().catch(() => undefined);
      throw this.connectionError(error);
    }
  }

  /** Names of every non-internal topic of the cluster. */
  async listTopics(): Promise<string[]> {
    const topics = await this.call((admin) => admin.listTopics());
    return topics.filter((topic) => !topic.startsWith('__'));
  }

  /** Partition numbers of each existing topic of `topics`, sorted; missing topics are absent from the map. */
  async partitionsOf(topics: readonly string[]): Promise<Map<string, number[]>> {
    const existing = new Set(await this.listTopics());
    const wanted = topics.filter((topic) => existing.has(topic));
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

  /** Log start and last stable offset of every partition of `topic`. */
  async offsets(topic: string): Promise<PartitionOffsets[]> {
    const offsets = await this.call((admin) => admin.fetchTopicOffsets(topic));
    return offsets.map((entry) => ({
      partition: entry.partition,
      low: BigInt(entry.low),
      high: BigInt(entry.high),
    }));
  }

  /** Per partition of `topic`: the first offset whose timestamp is at or after `time` (the end offset when none). */
  async offsetsForTime(topic: string, time: number): Promise<Map<number, bigint>> {
    const offsets = await this.call((admin) => admin.fetchTopicOffsetsByTimestamp(topic, time));
    return new Map(offsets.map((entry) => [entry.partition, BigInt(entry.offset)]));
  }

  /**
   * Stores `offsets` as the committed offsets of consumer group `groupId` (which must have no
   * running members), one topic at a time. Used for monitoring only.
   */
  async commitGroupOffsets(
    groupId: string,
    offsets: ReadonlyMap<string, readonly { partition: number; offset: string }[]>,
  ): Promise<void> {
    for (const [topic, partitions] of offsets) {
      await this.call((admin) => admin.setOffsets({ groupId, topic, partitions: [...partitions] }));
    }
  }

  /**
   * Starts fetching every partition of `topics` (read_committed) in a private, throwaway
   * consumer group: the group only hands this process the partitions; positions come from
   * `handlers.positionOf` at each assignment and nothing is ever committed to it.
   * Resolves once the first assignment is done (or the loop failed: see `onFailure`).
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

  /** Disconnects the admin client. Fetch sessions are stopped by their owner. Idempotent. */
  async close(): Promise<void> {
    const admin = this.#admin;
    this.#admin = undefined;
    await admin?.disconnect().catch(() => undefined);
  }

  private async call<T>(operation: (admin: Admin) => Promise<T>): Promise<T> {
    const admin = this.#admin;
    if (!admin) {
      throw new TidemarkError('NOT_CONNECTED', 'the Kafka source is not open', {
        fix: 'Call open() before using the source.',
      });
    }
    try {
      return await operation(admin);
    } catch (error) {
      throw this.connectionError(error);
    }
  }

  /** Wraps a kafkajs failure as a TidemarkError naming the brokers. */
  connectionError(error: unknown): TidemarkError {
    if (TidemarkError.isInstance(error)) return error;
    const message = error instanceof Error ? error.message : String(error);
    const brokers = this.#options.brokers.join(',');
    return new TidemarkError('CONNECTION_FAILED', `Kafka (${brokers}): ${message}`, {
      cause: error,
      fix: `Check that the brokers ${brokers} are running and reachable from this host (config 'brokers' or TIDEMARK_KAFKA_BROKERS), and that TLS/SASL settings match the listener.`,
      details: { brokers: this.#options.brokers },
    });
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

function tlsOptions(ssl: KafkaSourceConfig['ssl']): ConnectionOptions | boolean | undefined {
  if (ssl === false) return undefined;
  if (ssl === true) return true;
  const options: ConnectionOptions = { rejectUnauthorized: ssl.rejectUnauthorized };
  if (ssl.ca !== undefined) options.ca = ssl.ca;
  if (ssl.cert !== undefined) options.cert = ssl.cert;
  if (ssl.key !== undefined) options.key = ssl.key;
  return options;
}

function forwardLog(logger: Logger, entry: LogEntry): void {
  const { message, timestamp: _timestamp, ...fields } = entry.log;
  const record = { kafkajs: entry.namespace, ...fields };
  if (entry.level === logLevel.ERROR || entry.level === logLevel.WARN) logger.warn(record, message);
  else logger.debug(record, message);
}

class DeadlineError extends Error {
  constructor(milliseconds: number) {
    super(`no answer within ${milliseconds} ms`);
    this.name = 'DeadlineError';
  }
}

function withDeadline<T>(promise: Promise<T>, milliseconds: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(milliseconds)), milliseconds);
  });
  promise.catch(() => undefined);
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
