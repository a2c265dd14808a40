// Over 400 lines on purpose: the client interfaces the whole package codes against, the error
// translation both clients' callers rely on (FENCED, CONNECTION_FAILED, TIMEOUT), and the kafkajs
// implementation of producer, transaction and admin, which uses that translation throughout.
/**
 * The small Kafka client surface the sink uses, and its kafkajs 2.2.4 implementation (the
 * @platformatic/kafka one is in platformatic-client.ts; `client` chooses, client-factory.ts).
 *
 * The rest of the package talks only to these interfaces, so the client library can be
 * swapped (kafkajs is unmaintained). An implementation translates its library's errors into
 * Tidemark errors: FENCED (a newer producer took the transactional id), CONNECTION_FAILED,
 * TIMEOUT, or INTERNAL with the library error as `cause`.
 */

import {
  type CommittedOffset,
  createKafka,
  errorLinks,
  type OffsetEntry,
  offsetsByTopic,
  securityError,
  type TopicMessages,
} from '@tidemark/kafka';
import { FencedError, type Logger, sleep, TidemarkError } from '@tidemark/sdk';
import kafkajs from 'kafkajs';
import type { KafkaSinkConfig } from './config.js';

const { CompressionTypes, Partitioners } = kafkajs;

export type { CommittedOffset, OffsetEntry, OutgoingMessage, TopicMessages } from '@tidemark/kafka';

/** An open Kafka transaction. Calls are never concurrent; each rejects with a Tidemark error. */
export interface KafkaTransaction {
  /** Sends records inside the transaction; resolves once the brokers acknowledged them. */
  send(batches: readonly TopicMessages[]): Promise<void>;
  /** Adds the offsets of `groupId` to the transaction, all entries in one request. */
  sendOffsets(groupId: string, entries: readonly OffsetEntry[]): Promise<void>;
  /** Commits (EndTxn). A rejection other than FENCED means the outcome is unknown. */
  commit(): Promise<void>;
  abort(): Promise<void>;
}

/** A transactional, idempotent producer. */
export interface TransactionalProducer {
  /**
   * How many `send`s of one transaction may be in flight at once (default 1): more only where
   * the client assigns sequence numbers in call order and the broker's sequence checks keep
   * the order.
   */
  readonly sendsInFlight?: number;
  /**
   * Connects and initialises the transactional id (InitProducerId): any older producer with the
   * same id is fenced and its open transaction is completed or aborted before this resolves.
   * When `stillWanted` is given and returns false once the connection is up, rejects without
   * initialising (a caller that gave up must not fence its successor).
   */
  connect(stillWanted?: () => boolean): Promise<void>;
  /** Starts a transaction. Only one may be open; does no I/O in the kafkajs implementation. */
  begin(): Promise<KafkaTransaction>;
  /** Releases the connections without ending any transaction. Never rejects. */
  disconnect(): Promise<void>;
}

export interface KafkaAdmin {
  /**
   * True when `fetchOffsets` reads with `require_stable` (waits out pending transactional
   * offsets), so one read after a commit sees it; otherwise callers read until two reads agree.
   */
  readonly stableReads?: boolean;
  connect(): Promise<void>;
  /**
   * Committed offsets of `groupId` on `partitions` of `topic` (every partition when omitted;
   * offset -1 where none). Name the partitions for a stable read: brokers apply `require_stable`
   * only to the partitions a request names.
   */
  fetchOffsets(groupId: string, topic: string, partitions?: readonly number[]): Promise<CommittedOffset[]>;
  /** Partition count of `topic`, or null when the topic does not exist. */
  partitionCount(topic: string): Promise<number | null>;
  /** Creates the topics that do not exist yet (broker default replication). Existing ones are left alone. */
  createTopics(topics: readonly { topic: string; partitions?: number }[]): Promise<void>;
  /** Grows `topic` to `partitions` partitions. */
  createPartitions(topic: string, partitions: number): Promise<void>;
  /** Never rejects. */
  disconnect(): Promise<void>;
}

/** Everything the sink needs from a Kafka client library. */
export interface KafkaClient {
  createProducer(transactionalId: string): TransactionalProducer;
  createAdmin(): KafkaAdmin;
}

export type KafkaClientFactory = (config: KafkaSinkConfig, logger: Logger) => KafkaClient;

const PRODUCER_FENCED_CODE = 90;
const FENCED_TYPES = new Set([
  'INVALID_PRODUCER_EPOCH',
  'PRODUCER_FENCED',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
]);
const CONNECTION_NAMES = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSBrokerNotFound',
  'KafkaJSGroupCoordinatorNotFound',
]);
const TIMEOUT_NAMES = new Set(['KafkaJSRequestTimeoutError', 'KafkaJSTimeout', 'KafkaJSLockTimeout']);
/** @platformatic/kafka's error codes for a connection failure and a timeout. */
const NETWORK_CODE = 'PLT_KFK_NETWORK';
const TIMEOUT_CODE = 'PLT_KFK_TIMEOUT';

const OFFSETS_RETRIES = 10;
const TRANSIENT_OFFSET_TYPES = new Set([
  'CONCURRENT_TRANSACTIONS',
  'COORDINATOR_LOAD_IN_PROGRESS',
  'COORDINATOR_NOT_AVAILABLE',
  'NOT_COORDINATOR',
]);

/** The Kafka error name of one link: kafkajs's `type`, @platformatic/kafka's `apiId`. */
function typeOf(link: Record<string, unknown>): string | undefined {
  const type = link.type ?? link.apiId;
  return typeof type === 'string' ? type : undefined;
}

function hasType(error: unknown, types: ReadonlySet<string>): boolean {
  for (const link of causes(error)) {
    const type = typeOf(link);
    if (type !== undefined && types.has(type)) return true;
  }
  return false;
}

/** Walks `error`, its causes and the errors an aggregate wraps (@platformatic/kafka's retries). */
const causes = errorLinks;

/** True when a kafkajs error (or one of its causes) says a newer producer owns the transactional id. */
export function isFencedError(error: unknown): boolean {
  for (const link of causes(error)) {
    const type = typeOf(link);
    if (type !== undefined && FENCED_TYPES.has(type)) return true;
    // kafkajs 2.2.4 does not know PRODUCER_FENCED (90) and reports it as an unknown code.
    if (
      typeof link.message === 'string' &&
      new RegExp(`Unknown error code ${PRODUCER_FENCED_CODE}\\b`).test(link.message)
    ) {
      return true;
    }
  }
  return false;
}

/**
 * Translates a kafkajs error into a Tidemark error. `what` names the operation; `fencedHint`
 * completes the message of a FENCED error.
 */
export function translateKafkaError(error: unknown, what: string, config: KafkaSinkConfig): TidemarkError {
  if (TidemarkError.isInstance(error)) return error;
  const security = securityError(error, `kafka sink: ${what}`, config.brokers);
  if (security) return security;
  const message = error instanceof Error ? error.message : String(error);
  if (isFencedError(error)) {
    return new FencedError(
      `kafka sink: ${what} was fenced: a newer producer took this transactional id, or the transaction ` +
        `outlived transactionTimeoutMs (${config.transactionTimeoutMs} ms) and the broker aborted it (${message})`,
      { cause: error },
    );
  }
  for (const link of causes(error)) {
    const name = typeof link.name === 'string' ? link.name : '';
    if (
      CONNECTION_NAMES.has(name) ||
      link.code === NETWORK_CODE ||
      link.code === 'ECONNREFUSED' ||
      link.code === 'ENOTFOUND'
    ) {
      return new TidemarkError(
        'CONNECTION_FAILED',
        `kafka sink: ${what}: cannot reach the brokers (${message})`,
        {
          cause: error,
          fix: `Start Kafka or set brokers: (now ${config.brokers.join(',')}).`,
          details: { brokers: config.brokers },
        },
      );
    }
    if (TIMEOUT_NAMES.has(name) || link.code === TIMEOUT_CODE) {
      return new TidemarkError('TIMEOUT', `kafka sink: ${what} timed out (${message})`, {
        cause: error,
        fix: 'Check the brokers are healthy; raise requestTimeoutMs if they are slow.',
      });
    }
    const type = typeOf(link);
    if (type === 'KAFKA_STORAGE_ERROR' || link.code === 'ENOSPC') {
      return new TidemarkError(
        'STORAGE_FULL',
        `kafka sink: ${what}: the broker cannot write its log (${message})`,
        {
          cause: error,
          fix: "Free disk space on the broker's log.dirs (or lower retention); the pipeline resumes from its committed watermark.",
        },
      );
    }
    if (type === 'MESSAGE_TOO_LARGE' || type === 'RECORD_LIST_TOO_LARGE') {
      return new TidemarkError(
        'CONFIG_INVALID',
        `kafka sink: ${what}: the broker refused a request as too large (${message})`,
        {
          cause: error,
          fix: "Lower the sink's batch.maxBytes below the broker's message.max.bytes (1 MiB by default), or raise message.max.bytes / max.message.bytes; a single record above the limit must be split or dropped by a transform.",
        },
      );
    }
  }
  return new TidemarkError('INTERNAL', `kafka sink: ${what} failed: ${message}`, { cause: error });
}

/**
 * kafkajs warns on every transactional producer that bounded retries may weaken idempotence.
 * They are bounded on purpose: a failed send ends in abort or recover with a fresh producer
 * epoch, and the runtime's own retry and backoff govern.
 */
const EXPECTED_WARNING = 'Limiting retries for the idempotent producer';

/** Creates the kafkajs-backed client. Creating it does no I/O. */
export const createKafkajsClient: KafkaClientFactory = (config, logger) => {
  // Short, bounded retries: the whole connect-and-fence stays within a few seconds and the
  // runtime's retry/backoff takes over after that.
  const retry = { retries: 5, initialRetryTime: 200, maxRetryTime: 2_000, multiplier: 2, factor: 0.2 };
  const kafka = createKafka(config, {
    connectTimeoutMs: config.connectTimeoutMs,
    requestTimeoutMs: config.requestTimeoutMs,
    retry,
    logger,
    quietWarnings: [EXPECTED_WARNING],
  });
  const compression = config.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;

  return {
    createProducer(transactionalId) {
      const producer = kafka.producer({
        transactionalId,
        idempotent: true,
        maxInFlightRequests: 1,
        transactionTimeout: config.transactionTimeoutMs,
        allowAutoTopicCreation: false,
        createPartitioner: Partitioners.DefaultPartitioner,
        retry,
      });
      return {
        async connect(stillWanted) {
          try {
            await producer.connect();
            if (stillWanted && !stillWanted()) throw new Error('connect abandoned before InitProducerId');
            // kafkajs sends the transactional InitProducerId only when the first transaction
            // starts; starting and locally ending an empty one fences now.
            const transaction = await producer.transaction();
            await transaction.abort();
          } catch (error) {
            throw translateKafkaError(error, 'connect', config);
          }
        },
        async begin() {
          let transaction: Awaited<ReturnType<typeof producer.transaction>>;
          try {
            transaction = await producer.transaction();
          } catch (error) {
            throw translateKafkaError(error, 'begin', config);
          }
          return {
            async send(batches) {
              try {
                await transaction.sendBatch({
                  topicMessages: batches as TopicMessages[],
                  acks: -1,
                  compression,
                });
              } catch (error) {
                throw translateKafkaError(error, 'send', config);
              }
            },
            async sendOffsets(groupId, entries) {
              const topics = offsetsByTopic(entries, (entry) => ({
                partition: entry.partition,
                offset: String(entry.offset),
                metadata: entry.metadata,
              })).map(([topic, partitions]) => ({ topic, partitions }));
              // kafkajs does not retry AddOffsetsToTxn, which the coordinator refuses with
              // CONCURRENT_TRANSACTIONS while it still completes the previous transaction.
              for (let attempt = 0; ; attempt += 1) {
                try {
                  await transaction.sendOffsets({ consumerGroupId: groupId, topics });
                  return;
                } catch (error) {
                  if (attempt >= OFFSETS_RETRIES || !hasType(error, TRANSIENT_OFFSET_TYPES)) {
                    throw translateKafkaError(error, 'sendOffsets', config);
                  }
                  await sleep(Math.min(50 * 2 ** attempt, 1_000));
                }
              }
            },
            async commit() {
              try {
                await transaction.commit();
              } catch (error) {
                throw translateKafkaError(error, 'commit', config);
              }
            },
            async abort() {
              try {
                await transaction.abort();
              } catch (error) {
                throw translateKafkaError(error, 'abort', config);
              }
            },
          };
        },
        async disconnect() {
          await producer.disconnect().catch(() => {});
        },
      };
    },

    createAdmin() {
      const admin = kafka.admin({ retry });
      return {
        async connect() {
          try {
            await admin.connect();
          } catch (error) {
            throw translateKafkaError(error, 'admin connect', config);
          }
        },
        async fetchOffsets(groupId, topic, partitions) {
          try {
            const [result] = await admin.fetchOffsets({ groupId, topics: [topic] });
            const wanted = partitions ? new Set(partitions) : null;
            const found = (result?.partitions ?? []).filter(
              (entry) => !wanted || wanted.has(entry.partition),
            );
            return found.map(({ partition, offset, metadata }) => ({
              partition,
              offset: Number(offset),
              metadata,
            }));
          } catch (error) {
            throw translateKafkaError(error, `reading the offsets of group '${groupId}'`, config);
          }
        },
        async partitionCount(topic) {
          try {
            const topics = await admin.listTopics();
            if (!topics.includes(topic)) return null;
            const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
            return metadata.topics[0]?.partitions.length ?? null;
          } catch (error) {
            throw translateKafkaError(error, `reading the metadata of topic '${topic}'`, config);
          }
        },
        async createTopics(topics) {
          try {
            await admin.createTopics({
              waitForLeaders: true,
              topics: topics.map(({ topic, partitions }) => ({
                topic,
                ...(partitions === undefined ? {} : { numPartitions: partitions }),
              })),
            });
          } catch (error) {
            if (isTopicExistsError(error)) return;
            // kafkajs waits for leaders retrying only LEADER_NOT_AVAILABLE; a broker whose
            // metadata lags the creation (KRaft, under load) answers UNKNOWN_TOPIC_OR_PARTITION
            // for a moment, which is no failure: wait for the topics to show instead.
            if ([...causeChain(error)].some((link) => link.type === 'UNKNOWN_TOPIC_OR_PARTITION')) {
              const names = topics.map((entry) => entry.topic);
              const deadline = Date.now() + config.requestTimeoutMs;
              while (true) {
                const shown = await admin.fetchTopicMetadata({ topics: names }).then(
                  () => true,
                  () => false,
                );
                if (shown) return;
                if (Date.now() > deadline) break;
                await sleep(100);
              }
            }
            throw translateKafkaError(
              error,
              `creating topics ${topics.map((entry) => entry.topic).join(', ')}`,
              config,
            );
          }
        },
        async createPartitions(topic, partitions) {
          try {
            await admin.createPartitions({ topicPartitions: [{ topic, count: partitions }] });
          } catch (error) {
            throw translateKafkaError(error, `growing topic '${topic}' to ${partitions} partitions`, config);
          }
        },
        async disconnect() {
          await admin.disconnect().catch(() => {});
        },
      };
    },
  };
};

function isTopicExistsError(error: unknown): boolean {
  for (const link of causeChain(error)) {
    if (link.type === 'TOPIC_ALREADY_EXISTS') return true;
    const nested = link.errors;
    if (Array.isArray(nested) && nested.length > 0 && nested.every((inner) => isTopicExistsError(inner)))
      return true;
  }
  return false;
}

/** Walks `error` and its causes only. */
function* causeChain(error: unknown): Generator<Record<string, unknown>> {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && typeof current === 'object' && current !== null; depth += 1) {
    yield current as Record<string, unknown>;
    const next = (current as { cause?: unknown }).cause;
    if (next === current) return;
    current = next;
  }
}
