import { hostname } from 'node:os';
import { type RunLease, sleep, TidemarkError } from '@tidemark/sdk';
import type { Consumer } from 'kafkajs';
import { withAdmin } from './admin.js';
import { createKafka } from './client.js';
import type { KafkaConnection } from './connection.js';

/** Kafka topic whose consumer groups hold the pipeline liveness leases. */
export const LEASE_TOPIC = 'tidemark.leases';

/** How long `release` waits for a join that has not completed (see {@link PipelineLease.release}). */
const RELEASE_PENDING_JOIN_MS = 500;

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
export class PipelineLease implements RunLease {
  static readonly SESSION_TIMEOUT_MS = 10_000;
  readonly #consumer: Consumer;
  readonly #connection: KafkaConnection;
  #joined = false;

  constructor(connection: KafkaConnection, pipeline: string) {
    this.#connection = connection;
    const kafka = createKafka(connection, {
      clientId: `tidemark-lease:${hostname()}:${process.pid}`,
      connectTimeoutMs: 10_000,
      requestTimeoutMs: 10_000,
    });
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
    while (!this.#joined && Date.now() < deadline) await sleep(100);
    return this.#joined;
  }

  /** Leaves the group at once (so a reset right after shutdown is allowed). Idempotent. */
  async release(): Promise<void> {
    const leaving = this.#consumer.disconnect().catch(() => undefined);
    // A join still waiting out a crashed holder's session (after a SIGKILL) would hold the exit
    // for up to the session timeout: do not wait for it. Should that join complete after all,
    // the membership lapses by itself within the session timeout.
    await (this.#joined ? leaving : Promise.race([leaving, sleep(RELEASE_PENDING_JOIN_MS)]));
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
