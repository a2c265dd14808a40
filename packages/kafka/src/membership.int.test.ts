import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { sleep } from '@tidemark/sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { withAdmin } from './admin.js';
import { describeTaskGroup, KafkaTaskMembership, taskTopic } from './membership.js';

const connection = {
  brokers: (process.env.TIDEMARK_KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
  clientId: 'tidemark-membership-test',
  ssl: false as const,
};
const timing = { sessionTimeoutMs: 6_000, heartbeatIntervalMs: 500 };
const built = fileURLToPath(new URL('../dist/index.js', import.meta.url));

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(50);
  }
}

describe('KafkaTaskMembership (against the broker)', () => {
  const members: KafkaTaskMembership[] = [];
  const children: ChildProcess[] = [];
  afterEach(async () => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
    await Promise.all(members.map((member) => member.leave()));
    members.length = 0;
  });

  it('shares the tasks, shows stand-bys, and hands a leaving member tasks to the others', async () => {
    const pipeline = `membership-${randomUUID().slice(0, 8)}`;
    const owned = new Map<string, readonly number[]>();
    const join = async (name: string) => {
      const member = new KafkaTaskMembership(connection as never, pipeline, 2, timing);
      members.push(member);
      await member.join(async (tasks) => {
        owned.set(name, tasks);
      });
      return member;
    };
    await join('a');
    await until(() => owned.get('a')?.length === 2);
    const topics = await withAdmin(connection as never, 5_000, (admin) =>
      admin.fetchTopicMetadata({ topics: [taskTopic(pipeline)] }),
    );
    expect(topics.topics[0]?.partitions).toHaveLength(2);

    const b = await join('b');
    await until(() => owned.get('a')?.length === 1 && owned.get('b')?.length === 1);
    expect([...owned.get('a')!, ...owned.get('b')!].sort()).toEqual([0, 1]);
    await join('c');
    await until(() => owned.has('c'));
    const group = await describeTaskGroup(connection as never, pipeline);
    expect(group.members).toHaveLength(3);
    expect(group.members.filter((member) => member.tasks.length === 0)).toHaveLength(1);
    expect(group.members.flatMap((member) => member.tasks).sort()).toEqual([0, 1]);

    await b.leave();
    await until(() => [...(owned.get('a') ?? []), ...(owned.get('c') ?? [])].sort().join() === '0,1');
  }, 90_000);

  /**
   * A member in a child process (2 tasks, liveness timeout 2 s) sharing the tasks with one in
   * this process; `stalled` stops the child's heartbeats and liveness records without a
   * LeaveGroup (SIGKILL or SIGSTOP) and must move both tasks here well before the 6 s session
   * timeout. Returns the child's assignments (one line each) and this member's.
   */
  async function stallChild(stall: 'SIGKILL' | 'SIGSTOP') {
    const pipeline = `membership-${randomUUID().slice(0, 8)}`;
    const liveness = { ...timing, livenessTimeoutMs: 2_000 };
    const script = `import { KafkaTaskMembership } from ${JSON.stringify(built)};
const member = new KafkaTaskMembership(${JSON.stringify(connection)}, ${JSON.stringify(pipeline)}, 2, ${JSON.stringify(liveness)});
await member.join(async (tasks) => { console.log(JSON.stringify(tasks)); });
setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    const childTasks: number[][] = [];
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      for (const line of chunk.split('\n').filter(Boolean)) childTasks.push(JSON.parse(line) as number[]);
    });
    await until(() => childTasks.some((tasks) => tasks.length > 0) || child.exitCode !== null);
    expect(child.exitCode).toBeNull();
    const here = { tasks: [] as readonly number[] };
    const other = new KafkaTaskMembership(connection as never, pipeline, 2, liveness);
    members.push(other);
    await other.join(async (owned) => {
      here.tasks = owned;
    });
    // The tasks are shared and this member has read the child's liveness records.
    await until(() => here.tasks.length === 1 && childTasks.at(-1)?.length === 1);
    await sleep(1_500);
    expect(here.tasks).toHaveLength(1);
    const stalledAt = Date.now();
    child.kill(stall);
    await until(() => here.tasks.length === 2, 10_000);
    expect(Date.now() - stalledAt).toBeLessThan(4_500);
    expect(other.evictions).toBe(1);
    return { child, childTasks, here };
  }

  it('removes a SIGKILLed owner after the liveness timeout, well before its session expires', async () => {
    await stallChild('SIGKILL');
  }, 90_000);

  it('lets a paused member it removed rejoin and share the tasks again', async () => {
    const { child, childTasks, here } = await stallChild('SIGSTOP');
    const assignments = childTasks.length;
    child.kill('SIGCONT');
    // Its next heartbeat is refused (unknown member): it rejoins, and the tasks are shared again.
    await until(() => childTasks.length > assignments && childTasks.at(-1)?.length === 1, 30_000);
    await until(() => here.tasks.length === 1, 30_000);
    expect([...here.tasks, ...childTasks.at(-1)!].sort()).toEqual([0, 1]);
  }, 90_000);

  it('never removes a live member, nor one that publishes no liveness', async () => {
    const pipeline = `membership-${randomUUID().slice(0, 8)}`;
    const rebalances = new Map<string, number>();
    const join = async (name: string, livenessTimeoutMs: number) => {
      const member = new KafkaTaskMembership(connection as never, pipeline, 2, {
        ...timing,
        livenessTimeoutMs,
      });
      members.push(member);
      await member.join(async () => {
        rebalances.set(name, (rebalances.get(name) ?? 0) + 1);
      });
      return member;
    };
    const a = await join('a', 1_000);
    const b = await join('b', 1_000);
    const c = await join('c', 0);
    // Settled: all three joined and no rebalance for 2 s.
    let last = '';
    let since = Date.now();
    await until(async () => {
      const group = await describeTaskGroup(connection as never, pipeline);
      const now = JSON.stringify([...rebalances]);
      if (now !== last || group.members.length !== 3 || group.state !== 'Stable') {
        last = now;
        since = Date.now();
      }
      return Date.now() - since > 2_000;
    });
    const settled = new Map(rebalances);
    await sleep(6_000);
    expect(rebalances).toEqual(settled);
    expect(a.evictions + b.evictions + c.evictions).toBe(0);
    const group = await describeTaskGroup(connection as never, pipeline);
    expect(group.members).toHaveLength(3);
  }, 90_000);
});
