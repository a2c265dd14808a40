/**
 * A failure detector for the task group, faster than the group session timeout (which a default
 * broker keeps at 6 s or more). Every member publishes a small record (its member id and
 * instance name) to the pipeline's liveness topic every interval, reads that topic from its end,
 * and describes the group; a member whose records stopped for longer than the liveness timeout is
 * removed from the group on its behalf (LeaveGroup by member id), so the coordinator rebalances at
 * once. The group still decides who runs what; a wrong eviction (a member merely paused) costs a
 * rebalance, never a duplicate: the evicted member's next heartbeat answers UNKNOWN_MEMBER_ID, it
 * rejoins, and the new owner's sink has fenced its transactions.
 */
import type { Admin, Consumer, Producer } from '@platformatic/kafka';
import { type Logger, silentLogger, sleep } from '@tidemark/sdk';
import type { KafkaConnection } from './connection.js';
import { errorLinks } from './error-links.js';
import { load, platformaticOptions } from './platformatic.js';

/** The topic (one partition) the members of `pipeline`'s task group publish their liveness to. */
export function livenessTopic(pipeline: string): string {
  return `tidemark.${pipeline}.alive`;
}

/** Liveness records are needed for seconds: the topic keeps them about a minute. */
const RETENTION_MS = 60_000;
const MAX_BYTES = 1_048_576;
/** OFFSET_OUT_OF_RANGE, UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER_OR_FOLLOWER and kin: look the partition up again. */
const REFRESH_ON = new Set([1, 3, 6, 74, 75, 100]);

/** One member of the group the detector would remove, and how long it has been silent. */
export interface Eviction {
  readonly member: string;
  readonly instance: string;
  readonly silenceMs: number;
}

/**
 * What one member knows of the others' liveness: when each member's last record arrived, and when
 * its reader last reached the end of the topic. No I/O; times are this process's clock.
 */
export class LivenessView {
  readonly #timeoutMs: number;
  readonly #seen = new Map<string, { instance: string; at: number }>();
  #caughtUpAt: number | undefined;
  #recordAt: number | undefined;

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  /** A record of `member` was read at `at`. */
  record(member: string, instance: string, at: number): void {
    this.#seen.set(member, { instance, at });
    this.#recordAt = at;
  }

  /** The reader reached the end of the topic at `at`: every record published before was read. */
  caughtUp(at: number): void {
    this.#caughtUpAt = at;
  }

  /**
   * The members among `members` (the group's member ids now) to remove at `now`: those read at
   * least once whose last record is older than the timeout as of the reader's last catch-up
   * (records produced while this process stalled count once it reads them). `self` is never
   * returned. Empty when this member's own view is stale: its reader did not reach the end of
   * the topic within the timeout, or read no record at all (not even its own) within it — its
   * event loop or its connection stalled, not the others. Forgets members no longer in the group.
   */
  silent(members: readonly string[], self: string | undefined, now: number): Eviction[] {
    for (const member of this.#seen.keys()) if (!members.includes(member)) this.#seen.delete(member);
    const caughtUpAt = this.#caughtUpAt;
    if (caughtUpAt === undefined || this.#recordAt === undefined) return [];
    if (now - caughtUpAt > this.#timeoutMs || now - this.#recordAt > this.#timeoutMs) return [];
    const silent: Eviction[] = [];
    for (const member of members) {
      const seen = this.#seen.get(member);
      if (member === self || !seen) continue;
      const silenceMs = caughtUpAt - seen.at;
      if (silenceMs > this.#timeoutMs) silent.push({ member, instance: seen.instance, silenceMs });
    }
    return silent;
  }

  /** Forgets `member` (removed from the group; a member that rejoins has a new id). */
  forget(member: string): void {
    this.#seen.delete(member);
  }
}

export interface GroupLivenessOptions {
  /** The group whose members are watched. */
  readonly groupId: string;
  /** The liveness topic (see {@link livenessTopic}). */
  readonly topic: string;
  /** This instance's name (host:pid), carried in its records. */
  readonly instance: string;
  /** Silence after which a member is removed. */
  readonly timeoutMs: number;
  /** How often to publish and to check the group. */
  readonly intervalMs: number;
  readonly logger?: Logger;
}

/**
 * The detector of one member, on the `@platformatic/kafka` library (its admin removes a member by
 * id, which kafkajs cannot). Call order: `start` once, `member = id` after every join of the
 * group (records are published only once it is set), `stop` once. Never throws after `start`:
 * Kafka errors are logged and retried; when the detector cannot work, the session timeout still
 * removes dead members.
 */
export class GroupLiveness {
  readonly #connection: KafkaConnection;
  readonly #options: GroupLivenessOptions;
  readonly #logger: Logger;
  readonly #view: LivenessView;
  readonly #stop = new AbortController();
  #loops: Promise<void>[] = [];
  #producer: Producer<Buffer, Buffer, Buffer, Buffer> | undefined;
  #consumer: Consumer<Buffer, Buffer, Buffer, Buffer> | undefined;
  #admin: Admin | undefined;
  #member: string | undefined;
  /** Set once the reader found the topic (created it if needed): publishing starts then. */
  #topicReady = false;
  #evictions = 0;
  #failing = new Set<string>();

  constructor(connection: KafkaConnection, options: GroupLivenessOptions) {
    this.#connection = connection;
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    this.#view = new LivenessView(options.timeoutMs);
  }

  /** This member's id in the group since its last join. */
  set member(id: string) {
    this.#member = id;
  }

  /** How many members this detector removed from the group. */
  get evictions(): number {
    return this.#evictions;
  }

  /** Creates the clients and starts publishing, reading and checking in the background. */
  async start(): Promise<void> {
    const { Admin, Consumer, Producer } = await load();
    const base = platformaticOptions(this.#connection, {
      connectTimeoutMs: 5_000,
      requestTimeoutMs: 5_000,
      clientId: `tidemark-alive:${this.#options.instance}`,
    });
    this.#admin = new Admin({ ...base, retries: 1 });
    this.#producer = new Producer({
      ...base,
      retries: 1,
      idempotent: false,
      acks: 1,
      autocreateTopics: false,
    });
    this.#consumer = new Consumer({ ...base, retries: 1, groupId: `${this.#options.groupId}.alive` });
    this.#loops = [this.#publishing(), this.#reading(), this.#checking()];
  }

  /** Stops the loops and closes the clients. Idempotent; never rejects. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await Promise.all(this.#loops);
    this.#loops = [];
    await Promise.all([
      this.#producer?.close().catch(() => undefined),
      this.#consumer?.close(true).catch(() => undefined),
      this.#admin?.close().catch(() => undefined),
    ]);
  }

  /** Runs `step` every interval until stopped; a failing step is logged once per kind and retried. */
  async #every(name: string, step: () => Promise<void>): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      const started = Date.now();
      try {
        await step();
        if (this.#failing.delete(name)) this.#logger.info({ step: name }, 'liveness detection recovered');
      } catch (error) {
        if (signal.aborted) return;
        if (!this.#failing.has(name)) {
          this.#failing.add(name);
          this.#logger.warn(
            { step: name, err: (error as Error).message },
            'liveness detection failed; retrying (the session timeout still removes dead members)',
          );
        }
      }
      await sleep(Math.max(0, this.#options.intervalMs - (Date.now() - started)), signal);
    }
  }

  #publishing(): Promise<void> {
    return this.#every('publish', async () => {
      const member = this.#member;
      if (member === undefined || !this.#topicReady) return;
      const value = Buffer.from(JSON.stringify({ member, instance: this.#options.instance }));
      await this.#producer!.send({
        messages: [{ topic: this.#options.topic, key: Buffer.from(member), value }],
      });
    });
  }

  /** Creates the liveness topic unless it exists. */
  async #ensureTopic(): Promise<void> {
    const admin = this.#admin!;
    const topics = await admin.listTopics({ includeInternals: false });
    if (topics.includes(this.#options.topic)) return;
    try {
      await admin.createTopics({
        topics: [this.#options.topic],
        partitions: 1,
        replicas: -1,
        configs: [
          { name: 'retention.ms', value: String(RETENTION_MS) },
          { name: 'segment.ms', value: String(RETENTION_MS) },
        ],
      });
    } catch (error) {
      if (![...errorLinks(error)].some((link) => link.apiId === 'TOPIC_ALREADY_EXISTS')) throw error;
    }
  }

  /** Reads the liveness topic from its end, without a consumer group (a plain Fetch loop). */
  #reading(): Promise<void> {
    const topic = this.#options.topic;
    type Position = { topicId: string; leader: number; offset: bigint };
    let position: Position | undefined;
    return this.#every('read', async () => {
      const consumer = this.#consumer!;
      if (!position) {
        await this.#ensureTopic();
        const metadata = await consumer.metadata({ topics: [topic], forceUpdate: true });
        const found = metadata.topics.get(topic);
        const leader = found?.partitions[0]?.leader;
        if (!found || leader === undefined || leader < 0) throw new Error(`no leader for ${topic} yet`);
        const ends = await consumer.listOffsets({ topics: [topic] });
        position = { topicId: found.id, leader, offset: ends.get(topic)?.[0] ?? 0n };
        this.#topicReady = true;
      }
      // Reads until stopped, each fetch waiting up to a quarter interval for new records.
      while (!this.#stop.signal.aborted) {
        const current: Position = position;
        const response = await consumer
          .fetch({
            node: current.leader,
            topics: [
              {
                topicId: current.topicId,
                partitions: [
                  {
                    partition: 0,
                    currentLeaderEpoch: -1,
                    fetchOffset: current.offset,
                    lastFetchedEpoch: -1,
                    partitionMaxBytes: MAX_BYTES,
                  },
                ],
              },
            ],
            maxWaitTime: Math.max(50, Math.floor(this.#options.intervalMs / 4)),
            minBytes: 1,
            maxBytes: MAX_BYTES,
          })
          .catch((error: unknown) => {
            position = undefined;
            throw error;
          });
        const now = Date.now();
        if (response.errorCode !== 0) {
          position = undefined;
          throw new Error(`reading ${topic} failed (error code ${response.errorCode})`);
        }
        // The library keeps a fetch session (KIP-227): a partition without news is left out.
        const partition = response.responses[0]?.partitions.find((entry) => entry.partitionIndex === 0);
        if (!partition) {
          this.#view.caughtUp(now);
          continue;
        }
        if (partition.errorCode !== 0) {
          if (REFRESH_ON.has(partition.errorCode)) position = undefined;
          throw new Error(`reading ${topic} failed (error code ${partition.errorCode})`);
        }
        let next = current.offset;
        for (const batch of partition.records ?? []) {
          for (const record of batch.records) {
            const offset = batch.firstOffset + BigInt(record.offsetDelta);
            if (offset < current.offset) continue;
            next = offset + 1n;
            this.#read(record.value, now);
          }
        }
        position = { ...current, offset: next };
        if (next >= partition.highWatermark) this.#view.caughtUp(now);
      }
    });
  }

  #read(value: Buffer | null, at: number): void {
    try {
      const record = JSON.parse(value?.toString('utf8') ?? '') as { member?: unknown; instance?: unknown };
      if (typeof record.member === 'string' && record.member !== '')
        this.#view.record(record.member, typeof record.instance === 'string' ? record.instance : '', at);
    } catch {
      // Not a liveness record: ignored.
    }
  }

  #checking(): Promise<void> {
    const { groupId } = this.#options;
    return this.#every('check', async () => {
      const self = this.#member;
      if (self === undefined) return;
      const groups = await this.#admin!.describeGroups({ groups: [groupId] });
      const group = groups.get(groupId);
      const members = [...(group?.members.keys() ?? [])];
      for (const eviction of this.#view.silent(members, self, Date.now())) {
        if (this.#stop.signal.aborted) return;
        await this.#evict(eviction);
      }
    });
  }

  /** Removes a silent member; one another member removed first is no error. */
  async #evict({ member, instance, silenceMs }: Eviction): Promise<void> {
    try {
      await this.#admin!.removeMembersFromConsumerGroup({
        groupId: this.#options.groupId,
        members: [{ memberId: member, reason: `no liveness record for ${silenceMs} ms` }],
      });
    } catch (error) {
      if (![...errorLinks(error)].some((link) => link.apiId === 'UNKNOWN_MEMBER_ID')) throw error;
      this.#view.forget(member);
      return;
    }
    this.#view.forget(member);
    this.#evictions += 1;
    this.#logger.info(
      { member, instance, silenceMs, timeoutMs: this.#options.timeoutMs },
      'removed a silent member from the task group',
    );
  }
}
