/**
 * The `@platformatic/kafka` client: connection options, a transactional producer whose
 * transaction carries a watermark offset commit with metadata, and the admin calls the sink
 * needs (OffsetFetch with `require_stable`). Errors are the library's own (the caller
 * translates them); the library's error tree is walked by {@link errorLinks}.
 *
 * The library is imported when the first client connects, so a process that uses kafkajs never
 * loads it (and runs on a Node the library does not support).
 */
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import type { Admin, ClusterMetadata, Connection, MessageToProduce, Producer } from '@platformatic/kafka';
import { TidemarkError } from '@tidemark/sdk';
import type { KafkaConnection } from './connection.js';
import { errorLinks } from './error-links.js';
import { type CommittedOffset, type OffsetEntry, offsetsByTopic, type TopicMessages } from './messages.js';

/** Node versions the library supports (its `engines`). */
export const PLATFORMATIC_NODE_RANGE = '>= 22.22 or >= 24.6';

/** True when this Node can run `@platformatic/kafka`. */
export function platformaticSupported(version = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 24 || (major === 24 && minor >= 6) || (major === 22 && minor >= 22) || major === 23;
}

/**
 * Throws CONFIG_INVALID naming `client: kafkajs` as the fix when this Node cannot run the
 * library; `connector` names the connector in the message (e.g. 'kafka sink').
 */
export function assertPlatformaticRuns(connector: string, version = process.versions.node): void {
  if (platformaticSupported(version)) return;
  throw new TidemarkError(
    'CONFIG_INVALID',
    `${connector}: client 'platformatic' needs Node ${PLATFORMATIC_NODE_RANGE}, this is Node ${version}`,
    {
      fix: "Run on Node 24.6 or newer (npm run / npx use the project's Node 24), or set client: kafkajs.",
      details: { option: 'client' },
    },
  );
}

export interface PlatformaticSettings {
  readonly connectTimeoutMs: number;
  readonly requestTimeoutMs: number;
  /** Overrides the client id of the connection. */
  readonly clientId?: string;
}

/**
 * Retry delay of every client operation: 20 ms for the first attempts, then doubling up to 1 s.
 * The library's default (1 s flat) stalls about a second after most commits: the first send of
 * the next transaction meets CONCURRENT_TRANSACTIONS while the coordinator still writes the
 * previous transaction's markers, which takes a few milliseconds.
 */
export function retryDelayMs(attempt: number): number {
  return attempt <= 3 ? 20 : Math.min(1_000, 20 * 2 ** (attempt - 3));
}

/** Attempts after the first; with {@link retryDelayMs} about 4 s in all. */
export const RETRIES = 10;

const SASL_MECHANISMS = {
  plain: 'PLAIN',
  'scram-sha-256': 'SCRAM-SHA-256',
  'scram-sha-512': 'SCRAM-SHA-512',
} as const;

/** The base options of a client of the library for `connection`. */
export function platformaticOptions(connection: KafkaConnection, settings: PlatformaticSettings) {
  const options: {
    clientId: string;
    bootstrapBrokers: string[];
    connectTimeout: number;
    timeout: number;
    requestTimeout: number;
    retries: number;
    retryDelay: (client: unknown, operation: string, attempt: number) => number;
    tls?: TlsOptions;
    sasl?: {
      mechanism: (typeof SASL_MECHANISMS)[keyof typeof SASL_MECHANISMS];
      username: string;
      password: string;
    };
  } = {
    clientId: settings.clientId ?? connection.clientId,
    bootstrapBrokers: [...connection.brokers],
    connectTimeout: settings.connectTimeoutMs,
    timeout: settings.requestTimeoutMs,
    requestTimeout: settings.requestTimeoutMs,
    retries: RETRIES,
    retryDelay: (_client, _operation, attempt) => retryDelayMs(attempt),
  };
  const ssl = connection.ssl;
  if (ssl === true) options.tls = {};
  else if (ssl !== false) {
    const tls: TlsOptions = { rejectUnauthorized: ssl.rejectUnauthorized };
    if (ssl.ca !== undefined) tls.ca = ssl.ca;
    if (ssl.cert !== undefined) tls.cert = ssl.cert;
    if (ssl.key !== undefined) tls.key = ssl.key;
    options.tls = tls;
  }
  if (connection.sasl) {
    options.sasl = {
      mechanism: SASL_MECHANISMS[connection.sasl.mechanism],
      username: connection.sasl.username,
      password: connection.sasl.password,
    };
  }
  return options;
}

export interface PlatformaticTransaction {
  send(batches: readonly TopicMessages[]): Promise<void>;
  sendOffsets(groupId: string, entries: readonly OffsetEntry[]): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

type Library = typeof import('@platformatic/kafka');
let library: Promise<Library> | undefined;
/** The library, imported on first use. */
export function load(): Promise<Library> {
  library ??= import('@platformatic/kafka');
  return library;
}

/** Header names are few and repeat on every message: encode each once. */
const headerNames = new Map<string, Buffer>();
function headerName(name?: string): Buffer | undefined {
  if (name === undefined) return undefined;
  let bytes = headerNames.get(name);
  if (bytes === undefined) {
    bytes = Buffer.from(name, 'utf8');
    if (headerNames.size < 1_024) headerNames.set(name, bytes);
  }
  return bytes;
}
function headerValue(value?: string): Buffer | undefined {
  return value === undefined ? undefined : Buffer.from(value, 'utf8');
}

const GROUP_COORDINATOR = 0;

/**
 * A transactional, idempotent producer of the library. `connect` initialises the transactional
 * id (InitProducerId, fencing older producers); `begin` opens a transaction (no I/O). Calls on
 * one transaction are never concurrent except `send`, whose requests the library orders by
 * sequence number on one connection per broker.
 */
export class PlatformaticProducer {
  readonly #connection: KafkaConnection;
  readonly #settings: PlatformaticSettings;
  readonly #transactionalId: string;
  readonly #transactionTimeoutMs: number;
  readonly #compression: 'none' | 'gzip';
  #producer: Producer<Buffer, Buffer, string, string> | undefined;
  /** Produce requests a connection may have in flight (1 to 5). */
  readonly requestsInFlight: number;

  constructor(
    connection: KafkaConnection,
    settings: PlatformaticSettings & {
      readonly transactionalId: string;
      readonly transactionTimeoutMs: number;
      readonly compression: 'none' | 'gzip';
      readonly requestsInFlight?: number;
    },
  ) {
    this.#connection = connection;
    this.#settings = settings;
    this.#transactionalId = settings.transactionalId;
    this.#transactionTimeoutMs = settings.transactionTimeoutMs;
    this.#compression = settings.compression;
    this.requestsInFlight = settings.requestsInFlight ?? 1;
  }

  async connect(): Promise<void> {
    const { Producer, compatibilityPartitioner, kOptions } = await load();
    // Made non-idempotent, then switched to idempotent: the library pins an idempotent producer
    // to one request in flight per connection, which the broker does not require (up to 5,
    // ordered by sequence numbers, as the Java producer does). Sequence numbers are assigned
    // in call order; a request the broker refuses out of order fails the send and so the
    // transaction, which is aborted with a new epoch.
    const producer = new Producer<Buffer, Buffer, string, string>({
      ...platformaticOptions(this.#connection, this.#settings),
      transactionalId: this.#transactionalId,
      idempotent: false,
      maxInflights: this.requestsInFlight,
      autocreateTopics: false,
      // kafkajs's and Java's partitioner (murmur2 & 0x7fffffff): keyed records land where they
      // did before a switch of client.
      partitioner: compatibilityPartitioner as never,
      serializers: { headerKey: headerName, headerValue },
    });
    this.#producer = producer;
    const library = (producer as unknown as Record<symbol, { idempotent: boolean; acks: number }>)[kOptions]!;
    library.idempotent = true;
    library.acks = -1;
    // InitProducerId sends the client's request timeout as the transaction timeout: lend it
    // the transaction timeout for that one request.
    const options = (producer as unknown as Record<symbol, { timeout: number }>)[kOptions]!;
    options.timeout = this.#transactionTimeoutMs;
    try {
      // Producer id and epoch -1: a new producer, never a claim on the id's current epoch (the
      // library sends 0 and 0 by default, which a transactional id that exists fences).
      const transaction = await producer.beginTransaction({ producerId: -1n, producerEpoch: -1 });
      await transaction.cancel();
    } finally {
      options.timeout = this.#settings.requestTimeoutMs;
    }
  }

  async begin(): Promise<PlatformaticTransaction> {
    const producer = this.#producer!;
    const { kGetApi, kGetConnection } = await load();
    const transaction = await producer.beginTransaction();
    const compression = this.#compression;
    const internals = producer as unknown as Record<symbol, (...args: unknown[]) => void>;
    const call = <T>(operation: (callback: (error: Error | null, value?: T) => void) => void) =>
      new Promise<T>((resolve, reject) => {
        operation((error, value) => (error ? reject(error) : resolve(value as T)));
      });
    // Whether a request of this transaction may have reached the coordinator: an untouched
    // transaction is ended locally (EndTxn on it answers INVALID_TXN_STATE).
    let touched = false;
    return {
      async send(batches) {
        touched = true;
        const messages: MessageToProduce<Buffer, Buffer, string, string>[] = [];
        for (const { topic, messages: batch } of batches) {
          for (const message of batch) {
            messages.push({
              topic,
              key: message.key ?? undefined,
              value: message.value ?? undefined,
              headers: message.headers,
              timestamp: message.timestamp === undefined ? undefined : BigInt(message.timestamp),
            } as MessageToProduce<Buffer, Buffer, string, string>);
          }
        }
        await transaction.send({ messages, compression });
      },
      async sendOffsets(groupId, entries) {
        // AddOffsetsToTxn (retried by the library on CONCURRENT_TRANSACTIONS), then one
        // TxnOffsetCommit with the metadata to the group's coordinator.
        touched = true;
        await transaction.addConsumer({ groupId } as never);
        const metadata = await producer.metadata({ topics: [] });
        const connectionTo = (nodeId: number) =>
          call<Connection>((callback) =>
            internals[kGetConnection]!.call(producer, brokerOf(metadata, nodeId), callback),
          );
        const api = <T>(name: string) =>
          call<(connection: Connection, ...args: unknown[]) => void>((callback) =>
            internals[kGetApi]!.call(producer, name, callback),
          ).then(
            (found) =>
              (connection: Connection, ...args: unknown[]) =>
                call<T>((callback) => found(connection, ...args, callback)),
          );
        const anyBroker = await connectionTo(producer.coordinatorId ?? [...metadata.brokers.keys()][0]!);
        const findCoordinator = await api<{
          coordinators: { key: string; nodeId: number; errorCode: number }[];
        }>('FindCoordinator');
        const found = await findCoordinator(anyBroker, GROUP_COORDINATOR, [groupId]);
        const coordinator =
          found.coordinators.find((entry) => entry.key === groupId) ?? found.coordinators[0];
        if (!coordinator) throw new Error(`no coordinator found for group '${groupId}'`);
        const topics = offsetsByTopic(entries, (entry) => ({
          partitionIndex: entry.partition,
          committedOffset: BigInt(entry.offset),
          committedLeaderEpoch: -1,
          committedMetadata: entry.metadata,
        })).map(([name, partitions]) => ({ name, partitions }));
        const txnOffsetCommit = await api<unknown>('TxnOffsetCommit');
        const target = await connectionTo(coordinator.nodeId);
        await txnOffsetCommit(
          target,
          transaction.id,
          groupId,
          producer.producerId,
          producer.producerEpoch,
          -1,
          '',
          null,
          topics,
        );
      },
      async commit() {
        if (touched) await transaction.commit();
        else await transaction.cancel();
      },
      async abort() {
        if (touched) await transaction.abort();
        else await transaction.cancel();
      },
    };
  }

  /** Closes the connections without ending the transaction. Never rejects. */
  async disconnect(): Promise<void> {
    const producer = this.#producer;
    this.#producer = undefined;
    await producer?.close(true).catch(() => undefined);
  }
}

function brokerOf(metadata: ClusterMetadata, nodeId: number) {
  const broker = metadata.brokers.get(nodeId);
  if (!broker) throw new Error(`broker ${nodeId} is not in the cluster metadata`);
  return broker;
}

/** The admin calls of the sink on the library's admin client. */
export class PlatformaticAdmin {
  readonly #connection: KafkaConnection;
  readonly #settings: PlatformaticSettings;
  #admin: Admin | undefined;

  constructor(connection: KafkaConnection, settings: PlatformaticSettings) {
    this.#connection = connection;
    this.#settings = settings;
  }

  async connect(): Promise<void> {
    const { Admin } = await load();
    const admin = new Admin(platformaticOptions(this.#connection, this.#settings));
    this.#admin = admin;
    await admin.metadata({ topics: [] });
  }

  /**
   * Committed offsets of `groupId` on `partitions` of `topic`, read with `require_stable`: a
   * transaction whose offsets are still pending is waited for (the broker answers
   * UNSTABLE_OFFSET_COMMIT, which the library retries), so a read right after a commit sees it.
   * The broker applies `require_stable` only to partitions named in the request: asked for
   * every partition of a group (`partitions` omitted), it leaves out offsets still pending,
   * and the first commit of a new group then reads as no commit at all. A named partition
   * without a commit has offset -1; without `partitions`, it is absent.
   */
  async fetchOffsets(
    groupId: string,
    topic: string,
    partitions?: readonly number[],
  ): Promise<CommittedOffset[]> {
    const topics =
      partitions && partitions.length > 0 ? [{ name: topic, partitionIndexes: [...partitions] }] : null;
    const groups = await this.#admin!.listConsumerGroupOffsets({
      groups: [{ groupId, topics }],
      requireStable: true,
    });
    const found = groups
      .find((group) => group.groupId === groupId)
      ?.topics.find((entry) => entry.name === topic);
    return (found?.partitions ?? []).map((partition) => ({
      partition: partition.partitionIndex,
      offset: Number(partition.committedOffset),
      metadata: partition.metadata ?? null,
    }));
  }

  async partitionCount(topic: string): Promise<number | null> {
    const topics = await this.#admin!.listTopics({ includeInternals: false });
    if (!topics.includes(topic)) return null;
    const metadata = await this.#admin!.metadata({ topics: [topic], forceUpdate: true });
    return metadata.topics.get(topic)?.partitionsCount ?? null;
  }

  /** Creates the missing topics; existing ones are left alone. */
  async createTopics(topics: readonly { topic: string; partitions?: number }[]): Promise<void> {
    const existing = new Set(await this.#admin!.listTopics({ includeInternals: false }));
    for (const { topic, partitions } of topics) {
      if (existing.has(topic)) continue;
      try {
        await this.#admin!.createTopics({ topics: [topic], partitions: partitions ?? -1, replicas: -1 });
      } catch (error) {
        if (![...errorLinks(error)].some((link) => link.apiId === 'TOPIC_ALREADY_EXISTS')) throw error;
      }
    }
  }

  async createPartitions(topic: string, partitions: number): Promise<void> {
    await this.#admin!.createPartitions({ topics: [{ name: topic, count: partitions }] });
  }

  /** Never rejects. */
  async disconnect(): Promise<void> {
    const admin = this.#admin;
    this.#admin = undefined;
    await admin?.close().catch(() => undefined);
  }
}
