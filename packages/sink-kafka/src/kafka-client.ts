/**
 * The small Kafka client surface the sink uses, and its kafkajs 2.2.4 implementation.
 *
 * The rest of the package talks only to these interfaces, so the client library can be
 * swapped (kafkajs is unmaintained). An implementation translates its library's errors into
 * Tidemark errors: FENCED (a newer producer took the transactional id), CONNECTION_FAILED,
 * TIMEOUT, or INTERNAL with the library error as `cause`.
 */

import type { ConnectionOptions } from 'node:tls';
import { FencedError, type Logger, TidemarkError } from '@tidemark/sdk';
import kafkajs, { type SASLOptions } from 'kafkajs';
import type { KafkaSinkConfig } from './config.js';

const { Kafka, CompressionTypes, Partitioners, logLevel } = kafkajs;

/** One message to write; key and value are Buffers (views over the record bytes, not copies). */
export interface OutgoingMessage {
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
  /** Epoch milliseconds as a decimal string; undefined lets the client stamp the time of sending. */
  timestamp?: string;
}

export interface TopicMessages {
  readonly topic: string;
  readonly messages: OutgoingMessage[];
}

/** One offset commit entry. `offset` must be ≥ 0; `metadata` at most `offset.metadata.max.bytes`. */
export interface OffsetEntry {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly metadata: string;
}

/** A committed offset of a group; `offset` is -1 when the partition has no commit. */
export interface CommittedOffset {
  readonly partition: number;
  readonly offset: number;
  readonly metadata: string | null;
}

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

/** A transactional, idempotent producer with one request in flight. */
export interface TransactionalProducer {
  /**
   * Connects and initialises the transactional id (InitProducerId): any older producer with the
   * same id is fenced and its open transaction is completed or aborted before this resolves.
   */
  connect(): Promise<void>;
  /** Starts a transaction. Only one may be open; does no I/O in the kafkajs implementation. */
  begin(): Promise<KafkaTransaction>;
  /** Releases the connections without ending any transaction. Never rejects. */
  disconnect(): Promise<void>;
}

export interface KafkaAdmin {
  connect(): Promise<void>;
  /** Committed offsets of `groupId` on every partition of `topic` (offset -1 where none). */
  fetchOffsets(groupId: string, topic: string): Promise<CommittedOffset[]>;
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

const OFFSETS_RETRIES = 10;
const TRANSIENT_OFFSET_TYPES = new Set([
  'CONCURRENT_TRANSACTIONS',
  'COORDINATOR_LOAD_IN_PROGRESS',
  'COORDINATOR_NOT_AVAILABLE',
  'NOT_COORDINATOR',
]);

function sleep(milliseconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}

function hasType(error: unknown, types: ReadonlySet<string>): boolean {
  for (const link of causes(error)) if (typeof link.type === 'string' && types.has(link.type)) return true;
  return false;
}

/** Walks `error` and its causes. */
function* causes(error: unknown): Generator<Record<string, unknown>> {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && typeof current === 'object' && current !== null; depth += 1) {
    yield current as Record<string, unknown>;
    const next = (current as { cause?: unknown }).cause;
    if (next === current) return;
    current = next;
  }
}

/** True when a kafkajs error (or one of its causes) says a newer producer owns the transactional id. */
export function isFencedError(error: unknown): boolean {
  for (const link of causes(error)) {
    if (typeof link.type === 'string' && FENCED_TYPES.has(link.type)) return true;
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
    if (CONNECTION_NAMES.has(name) || link.code === 'ECONNREFUSED' || link.code === 'ENOTFOUND') {
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
    if (TIMEOUT_NAMES.has(name)) {
      return new TidemarkError('TIMEOUT', `kafka sink: ${what} timed out (${message})`, {
        cause: error,
        fix: 'Check the brokers are healthy; raise requestTimeoutMs if they are slow.',
      });
    }
    if (link.type === 'KAFKA_STORAGE_ERROR' || link.code === 'ENOSPC') {
      return new TidemarkError(
        'STORAGE_FULL',
        `kafka sink: ${what}: the broker cannot write its log (${message})`,
        {
          cause: error,
          fix: "Free disk space on the broker's log.dirs (or lower retention); the pipeline resumes from its committed watermark.",
        },
      );
    }
    if (link.type === 'MESSAGE_TOO_LARGE' || link.type === 'RECORD_LIST_TOO_LARGE') {
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

function kafkajsLogCreator(logger: Logger) {
  return () =>
    ({
      namespace,
      level,
      log,
    }: {
      namespace: string;
      level: number;
      log: { message: string; [key: string]: unknown };
    }) => {
      const { message, ...fields } = log;
      const entry = { component: 'kafkajs', namespace, ...fields };
      if (level <= logLevel.ERROR) logger.warn(entry, message);
      else if (level === logLevel.WARN && !message.startsWith(EXPECTED_WARNING)) logger.warn(entry, message);
      else logger.debug(entry, message);
    };
}

/** Creates the kafkajs-backed client. Creating it does no I/O. */
export const createKafkajsClient: KafkaClientFactory = (config, logger) => {
  // Short, bounded retries: the whole connect-and-fence stays within a few seconds and the
  // runtime's retry/backoff takes over after that.
  const retry = { retries: 5, initialRetryTime: 200, maxRetryTime: 2_000, multiplier: 2, factor: 0.2 };
  const kafka = new Kafka({
    clientId: config.clientId,
    brokers: config.brokers,
    connectionTimeout: Math.min(3_000, config.connectTimeoutMs),
    requestTimeout: config.requestTimeoutMs,
    retry,
    logLevel: logLevel.WARN,
    logCreator: kafkajsLogCreator(logger),
    ...(config.ssl === undefined ? {} : { ssl: toTls(config.ssl) }),
    ...(config.sasl === undefined ? {} : { sasl: config.sasl as SASLOptions }),
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
        async connect() {
          try {
            await producer.connect();
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
              const byTopic = new Map<string, { partition: number; offset: string; metadata: string }[]>();
              for (const entry of entries) {
                let partitions = byTopic.get(entry.topic);
                if (!partitions) {
                  partitions = [];
                  byTopic.set(entry.topic, partitions);
                }
                partitions.push({
                  partition: entry.partition,
                  offset: String(entry.offset),
                  metadata: entry.metadata,
                });
              }
              const topics = [...byTopic].map(([topic, partitions]) => ({ topic, partitions }));
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
        async fetchOffsets(groupId, topic) {
          try {
            const [result] = await admin.fetchOffsets({ groupId, topics: [topic] });
            return (result?.partitions ?? []).map(({ partition, offset, metadata }) => ({
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
  for (const link of causes(error)) {
    if (link.type === 'TOPIC_ALREADY_EXISTS') return true;
    const nested = link.errors;
    if (Array.isArray(nested) && nested.length > 0 && nested.every((inner) => isTopicExistsError(inner)))
      return true;
  }
  return false;
}

function toTls(ssl: NonNullable<KafkaSinkConfig['ssl']>): boolean | ConnectionOptions {
  if (typeof ssl === 'boolean') return ssl;
  const options: ConnectionOptions = { rejectUnauthorized: ssl.rejectUnauthorized };
  if (ssl.ca !== undefined) options.ca = ssl.ca;
  if (ssl.cert !== undefined) options.cert = ssl.cert;
  if (ssl.key !== undefined) options.key = ssl.key;
  return options;
}
