import { hostname } from 'node:os';
import {
  type ConnectorContext,
  type Logger,
  silentLogger,
  type TaskGroupMember,
  type TaskMembership,
  TidemarkError,
} from '@tidemark/sdk';
import kafkajs, { type Consumer } from 'kafkajs';
import { withAdmin } from './admin.js';
import { createKafka, unreachable } from './client.js';
import type { KafkaConnection } from './connection.js';
import { GroupLiveness, livenessTopic } from './liveness.js';
import { platformaticSupported } from './platformatic.js';

const { AssignerProtocol } = kafkajs;

/** The control topic whose partition n stands for task n of `pipeline`. */
export function taskTopic(pipeline: string): string {
  return `tidemark.${pipeline}.tasks`;
}

/** The consumer group the instances running `pipeline` join. */
export function taskGroup(pipeline: string): string {
  return `tidemark.${pipeline}.tasks`;
}

/** How fast a dead member's tasks move: the group session timeout, the heartbeat and the liveness timeout. */
export interface TaskGroupTiming {
  /** A member that stopped heartbeating is removed after this (the broker allows ≥ 6 s by default). */
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  /**
   * A member whose liveness records stopped this long is removed by the others (see
   * {@link GroupLiveness}); 0 or absent: only the session timeout removes dead members.
   */
  readonly livenessTimeoutMs?: number;
}

export const DEFAULT_TASK_GROUP_TIMING: TaskGroupTiming = {
  sessionTimeoutMs: 6_000,
  heartbeatIntervalMs: 500,
  livenessTimeoutMs: 2_000,
};

/** How often liveness records go out (and the group is checked) for a liveness timeout. */
export function livenessIntervalMs(livenessTimeoutMs: number): number {
  return Math.max(100, Math.min(500, Math.floor(livenessTimeoutMs / 4)));
}

const CLIENT_PREFIX = 'tidemark-task';

/**
 * Membership of the task group of one pipeline, through Kafka's consumer-group protocol: a
 * consumer of group `tidemark.<pipeline>.tasks` subscribed to the control topic of the same
 * name, which has one partition per task and never carries a message. Owning partition n is
 * owning task n. kafkajs rebalances eagerly: on every membership change each member learns its
 * new set of tasks when the rebalance completes; the caller stops the tasks it lost and starts
 * the ones it gained (the new owner's sink fences any overlap). With a liveness timeout, a
 * {@link GroupLiveness} detector removes a member that died (SIGKILL, machine loss) after that
 * timeout instead of the session timeout.
 */
export class KafkaTaskMembership implements TaskMembership {
  readonly instance = `${hostname()}:${process.pid}`;
  readonly #connection: KafkaConnection;
  readonly #taskCount: number;
  readonly #logger: Logger;
  readonly #consumer: Consumer;
  readonly #topic: string;
  #onAssignment: ((tasks: readonly number[]) => Promise<void>) | undefined;
  readonly #liveness: GroupLiveness | undefined;
  readonly #livenessOff: string | undefined;
  #chain: Promise<void> = Promise.resolve();
  #left = false;

  constructor(
    connection: KafkaConnection,
    pipeline: string,
    taskCount: number,
    timing: TaskGroupTiming = DEFAULT_TASK_GROUP_TIMING,
    logger: Logger = silentLogger,
  ) {
    this.#connection = connection;
    this.#taskCount = taskCount;
    this.#logger = logger;
    const kafka = createKafka(connection, {
      clientId: `${CLIENT_PREFIX}:${this.instance}`,
      connectTimeoutMs: 10_000,
      requestTimeoutMs: 10_000,
    });
    this.#consumer = kafka.consumer({
      groupId: taskGroup(pipeline),
      sessionTimeout: timing.sessionTimeoutMs,
      rebalanceTimeout: Math.max(10_000, timing.sessionTimeoutMs * 2),
      heartbeatInterval: timing.heartbeatIntervalMs,
      maxWaitTimeInMs: Math.min(250, timing.heartbeatIntervalMs),
      allowAutoTopicCreation: false,
      retry: { retries: 1_000_000, initialRetryTime: 300, maxRetryTime: 2_000 },
    });
    this.#topic = taskTopic(pipeline);
    const livenessTimeoutMs = timing.livenessTimeoutMs ?? 0;
    if (livenessTimeoutMs > 0 && platformaticSupported()) {
      this.#liveness = new GroupLiveness(connection, {
        groupId: taskGroup(pipeline),
        topic: livenessTopic(pipeline),
        instance: this.instance,
        timeoutMs: livenessTimeoutMs,
        intervalMs: livenessIntervalMs(livenessTimeoutMs),
        logger,
      });
    } else if (livenessTimeoutMs > 0) {
      this.#livenessOff = `Node ${process.versions.node} cannot run @platformatic/kafka`;
    }
    this.#consumer.on(this.#consumer.events.GROUP_JOIN, (event) => {
      if (this.#left) return;
      if (this.#liveness) this.#liveness.member = event.payload.memberId;
      const partitions = event.payload.memberAssignment[this.#topic] ?? [];
      const tasks = partitions.filter((partition) => partition < this.#taskCount).sort((a, b) => a - b);
      this.#logger.info({ tasks, leader: event.payload.isLeader }, 'task group rebalanced');
      this.#deliver(tasks);
    });
    this.#consumer.on(this.#consumer.events.CRASH, (event) => {
      if (this.#left) return;
      this.#logger.warn(
        { err: event.payload.error.message, restart: event.payload.restart },
        'task group membership failed',
      );
      if (!event.payload.restart) this.#deliver([]);
    });
  }

  async join(onAssignment: (tasks: readonly number[]) => Promise<void>): Promise<void> {
    this.#onAssignment = onAssignment;
    await this.#ensureTopic(this.#topic);
    try {
      await this.#consumer.connect();
      await this.#consumer.subscribe({ topics: [this.#topic], fromBeginning: false });
      await this.#consumer.run({ eachMessage: async () => undefined });
    } catch (error) {
      await this.#consumer.disconnect().catch(() => undefined);
      throw unreachable(this.#connection, error);
    }
    if (this.#livenessOff) {
      this.#logger.warn(
        { reason: this.#livenessOff },
        'liveness detection is off: a dead instance keeps its tasks until the session timeout',
      );
    }
    await this.#liveness?.start().catch((error: unknown) => {
      this.#logger.warn(
        { err: (error as Error).message },
        'liveness detection could not start: a dead instance keeps its tasks until the session timeout',
      );
    });
  }

  /** Members of the group this instance removed because their liveness records stopped. */
  get evictions(): number {
    return this.#liveness?.evictions ?? 0;
  }

  #deliver(tasks: readonly number[]): void {
    const onAssignment = this.#onAssignment;
    if (!onAssignment) return;
    this.#chain = this.#chain.then(() => onAssignment(tasks)).catch(() => undefined);
  }

  async leave(): Promise<void> {
    if (this.#left) return;
    this.#left = true;
    await this.#consumer.disconnect().catch(() => undefined);
    await this.#liveness?.stop();
    await this.#chain;
  }

  /** Creates the control topic with one partition per task, or adds partitions up to the task count. */
  async #ensureTopic(topic: string): Promise<void> {
    await withAdmin(this.#connection, 10_000, async (admin) => {
      const topics = await admin.listTopics();
      if (!topics.includes(topic)) {
        await admin
          .createTopics({ topics: [{ topic, numPartitions: this.#taskCount }], waitForLeaders: true })
          .catch(() => false);
        return;
      }
      const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
      const partitions = metadata.topics[0]?.partitions.length ?? 0;
      if (partitions < this.#taskCount) {
        await admin.createPartitions({ topicPartitions: [{ topic, count: this.#taskCount }] });
      } else if (partitions > this.#taskCount) {
        this.#logger.warn(
          { topic, partitions, tasks: this.#taskCount },
          'the control topic has more partitions than tasks; the extra ones stand for no task',
        );
      }
    });
  }
}

/** The members of the task group of `pipeline` and the tasks each owns (stand-bys own none). */
export async function describeTaskGroup(
  connection: KafkaConnection,
  pipeline: string,
): Promise<{ state: string; members: TaskGroupMember[] }> {
  const description = await withAdmin(connection, 5_000, (admin) =>
    admin.describeGroups([taskGroup(pipeline)]),
  );
  const group = description.groups[0];
  const topic = taskTopic(pipeline);
  const members = (group?.members ?? []).map((member) => {
    let tasks: number[] = [];
    try {
      const decoded = AssignerProtocol.MemberAssignment.decode(member.memberAssignment);
      tasks = [...(decoded?.assignment[topic] ?? [])].sort((a, b) => a - b);
    } catch {
      tasks = [];
    }
    const instance = member.clientId.startsWith(`${CLIENT_PREFIX}:`)
      ? member.clientId.slice(CLIENT_PREFIX.length + 1)
      : member.clientId;
    return { instance, host: member.clientHost.replace(/^\//, ''), tasks };
  });
  members.sort((a, b) => (a.tasks[0] ?? Number.MAX_SAFE_INTEGER) - (b.tasks[0] ?? Number.MAX_SAFE_INTEGER));
  return { state: group?.state ?? 'Dead', members };
}

/** The membership hook a Kafka-based sink exposes (see SinkConnector.membership). */
export const kafkaTaskMembershipHook = {
  create(
    config: KafkaConnection,
    pipelineId: string,
    taskCount: number,
    context: ConnectorContext,
    sessionTimeoutMs: number,
    livenessTimeoutMs = 0,
  ): TaskMembership {
    if (taskCount < 1) {
      throw new TidemarkError('CONFIG_INVALID', `tasks must be at least 1, not ${taskCount}`, {
        fix: 'Set tasks: 1 or more.',
      });
    }
    const timing = {
      sessionTimeoutMs,
      heartbeatIntervalMs: Math.max(100, Math.min(500, Math.floor(sessionTimeoutMs / 6))),
      livenessTimeoutMs,
    };
    return new KafkaTaskMembership(config, pipelineId, taskCount, timing, context.logger);
  },
  describe: (config: KafkaConnection, pipelineId: string) => describeTaskGroup(config, pipelineId),
};
