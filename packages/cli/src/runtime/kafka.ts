import { hostname } from 'node:os';
import { TidemarkError } from '@tidemark/core';
import { type Admin, type Consumer, Kafka, type KafkaConfig, logLevel } from 'kafkajs';

/** How to reach a Kafka cluster, taken from a connector's validated options. */
export interface KafkaConnection {
  readonly brokers: string[];
  readonly ssl?: KafkaConfig['ssl'];
  readonly sasl?: KafkaConfig['sasl'];
}

/**
 * Extracts the broker connection from a Kafka connector's options (`brokers` as a list or a
 * comma-separated string, plus `ssl` and `sasl` when present). Undefined when there is none.
 */
export function kafkaConnectionOf(options: unknown): KafkaConnection | undefined {
  if (typeof options !== 'object' || options === null) return undefined;
  const record = options as Record<string, unknown>;
  const brokers = Array.isArray(record.brokers)
    ? record.brokers.filter((broker): broker is string => typeof broker === 'string')
    : typeof record.brokers === 'string'
      ? record.brokers
          .split(',')
          .map((broker) => broker.trim())
          .filter(Boolean)
      : [];
  if (brokers.length === 0) return undefined;
  return {
    brokers,
    ...(record.ssl !== undefined ? { ssl: record.ssl as KafkaConfig['ssl'] } : {}),
    ...(record.sasl !== undefined ? { sasl: record.sasl as KafkaConfig['sasl'] } : {}),
  };
}

function client(connection: KafkaConnection, clientId: string, timeoutMs: number): Kafka {
  return new Kafka({
    clientId,
    brokers: connection.brokers,
    ...(connection.ssl !== undefined ? { ssl: connection.ssl } : {}),
    ...(connection.sasl !== undefined ? { sasl: connection.sasl as NonNullable<KafkaConfig['sasl']> } : {}),
    connectionTimeout: Math.min(timeoutMs, 3_000),
    requestTimeout: timeoutMs,
    retry: { retries: 1, initialRetryTime: 200, maxRetryTime: 1_000 },
    logLevel: logLevel.NOTHING,
  });
}

async function withTimeout<T>(work: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new TidemarkError('TIMEOUT', `${what} did not answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Connects an admin client, runs `work`, disconnects. A broker that cannot be reached within
 * `timeoutMs` becomes CONNECTION_FAILED naming the brokers.
 */
export async function withAdmin<T>(
  connection: KafkaConnection,
  timeoutMs: number,
  work: (admin: Admin) => Promise<T>,
): Promise<T> {
  const admin = client(connection, 'tidemark-cli', timeoutMs).admin();
  try {
    try {
      await withTimeout(admin.connect(), timeoutMs, `Kafka at ${connection.brokers.join(',')}`);
    } catch (cause) {
      throw new TidemarkError(
        'CONNECTION_FAILED',
        `cannot reach Kafka at ${connection.brokers.join(', ')}: ${(cause as Error).message}`,
        {
          cause,
          fix: 'Check the brokers option, that the brokers run, and that this host can reach them (firewall, TLS, SASL).',
        },
      );
    }
    return await withTimeout(work(admin), timeoutMs * 2, `Kafka at ${connection.brokers.join(',')}`);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** Whether `topic` exists, and whether the broker would auto-create it. */
export async function checkTopic(
  admin: Admin,
  topic: string,
): Promise<{ exists: boolean; autoCreate: boolean | undefined }> {
  const topics = await admin.listTopics();
  if (topics.includes(topic)) return { exists: true, autoCreate: undefined };
  let autoCreate: boolean | undefined;
  try {
    const cluster = await admin.describeCluster();
    const broker = cluster.brokers[0];
    if (broker) {
      const configs = await admin.describeConfigs({
        resources: [{ type: 4, name: String(broker.nodeId), configNames: ['auto.create.topics.enable'] }],
        includeSynonyms: false,
      });
      const entry = configs.resources[0]?.configEntries.find(
        (item) => item.configName === 'auto.create.topics.enable',
      );
      if (entry) autoCreate = entry.configValue === 'true';
    }
  } catch {
    autoCreate = undefined;
  }
  return { exists: false, autoCreate };
}

/** Kafka topic whose consumer groups hold the pipeline liveness leases. */
export const LEASE_TOPIC = 'tidemark.leases';

/** Consumer group whose membership means "pipeline `pipeline` is running". */
export function leaseGroup(pipeline: string): string {
  return `tidemark.${pipeline}.lease`;
}

/**
 * A liveness lease for one pipeline, held through Kafka group membership: a consumer joined to
 * group `tidemark.<pipeline>.lease` on the one-partition topic `tidemark.leases`. While the
 * process runs (and heartbeats) the group has a member whose client id names host and pid;
 * `tidemark watermarks reset` refuses while it does. A crashed holder's membership lapses after
 * the session timeout.
 */
export class PipelineLease {
  static readonly SESSION_TIMEOUT_MS = 10_000;
  readonly #consumer: Consumer;
  readonly #connection: KafkaConnection;
  #joined = false;

  constructor(connection: KafkaConnection, pipeline: string) {
    this.#connection = connection;
    const kafka = client(connection, `tidemark-lease:${hostname()}:${process.pid}`, 10_000);
    this.#consumer = kafka.consumer({
      groupId: leaseGroup(pipeline),
      sessionTimeout: PipelineLease.SESSION_TIMEOUT_MS,
      heartbeatInterval: 2_000,
      maxWaitTimeInMs: 1_000,
      allowAutoTopicCreation: false,
      retry: { retries: 10 },
    });
    this.#consumer.on(this.#consumer.events.GROUP_JOIN, () => {
      this.#joined = true;
    });
  }

  /** True once the group join completed. */
  get held(): boolean {
    return this.#joined;
  }

  /** Joins the lease group (creating the lease topic if needed). Resolves once joined or after `timeoutMs`. */
  async acquire(timeoutMs = 15_000): Promise<boolean> {
    await withAdmin(this.#connection, 5_000, async (admin) => {
      const topics = await admin.listTopics();
      if (!topics.includes(LEASE_TOPIC)) {
        await admin.createTopics({ topics: [{ topic: LEASE_TOPIC, numPartitions: 1 }] }).catch(() => false);
      }
    });
    await this.#consumer.connect();
    await this.#consumer.subscribe({ topics: [LEASE_TOPIC], fromBeginning: false });
    await this.#consumer.run({ eachMessage: async () => undefined });
    const deadline = Date.now() + timeoutMs;
    while (!this.#joined && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    return this.#joined;
  }

  /** Leaves the group at once (so a reset right after shutdown is allowed). Idempotent. */
  async release(): Promise<void> {
    await this.#consumer.disconnect().catch(() => undefined);
    this.#joined = false;
  }
}

/**
 * Throws ILLEGAL_STATE when pipeline `pipeline` holds a lease (is running somewhere), naming
 * the holders' host and pid.
 */
export async function assertNotRunning(connection: KafkaConnection, pipeline: string): Promise<void> {
  const description = await withAdmin(connection, 5_000, (admin) =>
    admin.describeGroups([leaseGroup(pipeline)]),
  );
  const group = description.groups[0];
  const members = group?.members ?? [];
  if (members.length === 0) return;
  const holders = members
    .map((member) => {
      const [, host, pid] = member.clientId.split(':');
      return host && pid
        ? `${host} (pid ${pid}, from ${member.clientHost})`
        : `${member.clientId} from ${member.clientHost}`;
    })
    .join('; ');
  throw new TidemarkError('ILLEGAL_STATE', `pipeline '${pipeline}' is running: ${holders}`, {
    retriable: false,
    fix: `Stop it first (SIGTERM), then reset; a crashed process releases its lease within ${PipelineLease.SESSION_TIMEOUT_MS / 1000} s.`,
  });
}
