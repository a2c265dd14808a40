// Building blocks of the chaos scenarios: a seeded random source, child pipeline processes that
// can be SIGKILLed, and a read_committed verifier.
import { spawn } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { readSettings } from '../lib/addresses.mjs';
import { findExecutable } from '../lib/processes.mjs';

export const brokers = (process.env.TIDEMARK_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const CHILD = fileURLToPath(new URL('./pipeline-child.mjs', import.meta.url));

export const kafka = new Kafka({ clientId: 'tidemark-chaos', brokers, logLevel: logLevel.NOTHING });

/** Mulberry32: a small seeded PRNG so a failing run can be repeated with --seed. */
export function random(seed) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  next.between = (low, high) => low + Math.floor(next() * (high - low + 1));
  return next;
}

export const sleep = (ms) => delay(ms);

export function uniqueName(prefix) {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

export async function createTopic(topic, numPartitions = 1) {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [{ topic, numPartitions, replicationFactor: 1 }],
      waitForLeaders: true,
    });
  } finally {
    await admin.disconnect();
  }
}

/**
 * A pipeline child process. `exited` resolves with the exit code (or signal name). `command`
 * replaces the pipeline child by another Node program (e.g. `tidemark run <file>`).
 */
export class PipelineProcess {
  constructor(spec, log, command = { args: [CHILD], env: { TIDEMARK_CHAOS_SPEC: JSON.stringify(spec) } }) {
    this.spec = spec;
    this.log = log;
    this.stderrTail = [];
    this.child = spawn(process.execPath, command.args, {
      env: { ...process.env, ...command.env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (chunk) => {
      for (const line of chunk.split('\n')) {
        if (!line) continue;
        this.stderrTail.push(line);
        if (this.stderrTail.length > 30) this.stderrTail.shift();
        if (process.env.TIDEMARK_CHAOS_VERBOSE === '1') log(`child ${this.child.pid}: ${line}`);
      }
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => resolve(code ?? signal));
    });
    this.alive = true;
    this.exited.then(() => {
      this.alive = false;
    });
  }

  kill(signal = 'SIGKILL') {
    if (this.alive) this.child.kill(signal);
    return this.exited;
  }

  /** Graceful stop: SIGTERM, then SIGKILL after `timeoutMs`. */
  async stop(timeoutMs = 30_000) {
    if (!this.alive) return this.exited;
    this.child.kill('SIGTERM');
    const outcome = await Promise.race([this.exited, sleep(timeoutMs).then(() => 'timeout')]);
    if (outcome === 'timeout') {
      this.log(`child ${this.child.pid} did not stop in ${timeoutMs} ms; killing`);
      return this.kill();
    }
    return outcome;
  }
}

const JAVA_READER = fileURLToPath(new URL('./CommittedTopicReader.java', import.meta.url));

/**
 * Reads the sink topic from the beginning, parsing each value as JSON `{ id, stream, seq }`.
 *
 * While the scenario runs, a kafkajs read_committed consumer counts progress (`waitFor`). The
 * verdict's records come from Kafka's own Java consumer (`CommittedTopicReader.java`,
 * isolation.level=read_committed), read in `stop()`: kafkajs's read_committed filter marks at
 * most one aborted transaction as begun per message, so a fetch that starts while two or more
 * aborted transactions are open (several tasks writing one partition) hands out the first record
 * of the second one, which would count as a duplicate. `verify` prints the kafkajs view too when
 * it differs.
 */
export class CommittedReader {
  constructor(topic) {
    this.topic = topic;
    this.records = [];
    // A record handed over twice (a rebalance of the verifier's own group) is not a duplicate
    // in the topic: each partition offset counts once. Real duplicates have distinct offsets.
    this.offsets = new Set();
    this.consumer = kafka.consumer({
      groupId: uniqueName('tidemark-chaos-verify'),
      readUncommitted: false,
      maxWaitTimeInMs: 200,
    });
  }

  async start() {
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.topic, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) {
          const position = `${batch.partition}@${message.offset}`;
          if (this.offsets.has(position)) continue;
          this.offsets.add(position);
          const provenance = String(message.headers?.['tidemark.p'] ?? '').replaceAll('\t', ' ');
          this.records.push(located(message.value.toString('utf8'), `${position} ${provenance}`));
        }
      },
    });
  }

  /** Waits until at least `count` distinct ids were read, then `settleMs` more (to catch late duplicates). */
  async waitFor(count, { timeoutMs = 120_000, settleMs = 2_000, progress } = {}) {
    const deadline = Date.now() + timeoutMs;
    let lastReport = 0;
    while (Date.now() < deadline) {
      const distinct = new Set(this.records.map((record) => record.id)).size;
      if (distinct >= count) break;
      if (progress && Date.now() - lastReport > 5_000) {
        lastReport = Date.now();
        progress(`verifier: ${distinct}/${count} distinct records committed`);
      }
      await sleep(250);
    }
    await sleep(settleMs);
  }

  /** Stops the progress consumer and replaces `records` with what Kafka's Java consumer reads. */
  async stop() {
    if (this.stopped) return;
    this.stopped = true;
    await this.consumer.disconnect();
    const client = this.records;
    this.records = await readCommittedWithJava(this.topic);
    // verify() compares the two views and prints the kafkajs one when it differs.
    Object.defineProperty(this.records, 'crossCheck', { value: client });
  }
}

/** A parsed record with where it sits (non-enumerable: verify compares the record fields). */
function located(value, at) {
  const record = JSON.parse(value);
  Object.defineProperty(record, 'at', { value: at });
  return record;
}

/** Every committed record of `topic`, read by Kafka's own consumer (read_committed). */
export async function readCommittedWithJava(topic) {
  const { kafka: settings } = readSettings();
  const child = spawn(
    findExecutable('java') ?? 'java',
    ['-cp', `${settings.libraryDirectory}/*`, JAVA_READER, brokers.join(','), topic],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (chunk) => {
    out += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk) => {
    err += chunk;
  });
  const code = await new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', resolve);
  });
  if (code !== 0)
    throw new Error(
      `the Java read_committed reader exited with ${code}: ${err.trim().split('\n').slice(-5).join(' | ')}`,
    );
  return out
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [partition, offset, provenance, ...value] = line.split('\t');
      return located(value.join('\t'), `${partition}@${offset} ${provenance}`);
    });
}

/**
 * Compares what the sink committed with what the source held. `expected` is a list of
 * `{ id, stream, seq }`; order is checked per stream (ascending seq).
 */
export function verify(expected, committed, view = 'the Java read_committed consumer') {
  if (committed.crossCheck) {
    const other = verify(expected, committed.crossCheck, "kafkajs's read_committed consumer");
    if (other.duplicates !== 0 || other.lost !== 0)
      console.error(
        `chaos: kafkajs's read_committed view of the same topic differs: duplicates=${other.duplicates} lost=${other.lost} (the verdict is the Java consumer's)`,
      );
  }
  const counts = new Map();
  for (const record of committed) counts.set(record.id, (counts.get(record.id) ?? 0) + 1);
  let duplicates = 0;
  for (const count of counts.values()) if (count > 1) duplicates += count - 1;
  const expectedIds = new Set(expected.map((record) => record.id));
  const lostRecords = new Map();
  for (const record of expected) if (!counts.has(record.id)) lostRecords.set(record.id, record);
  const lost = lostRecords.size;
  const lostIds = [...lostRecords.keys()];
  if (lost > 0) {
    const examples = [...lostRecords.values()].slice(0, 10);
    console.error(
      `chaos: lost records (${view}), first ${examples.length}: ${examples.map((record) => `${record.id} (stream ${record.stream}, seq ${record.seq})`).join(', ')}`,
    );
  }
  let unexpected = 0;
  for (const id of counts.keys()) if (!expectedIds.has(id)) unexpected += 1;
  const twice = [...counts].filter(([id, count]) => count > 1 || !expectedIds.has(id)).slice(0, 10);
  if (twice.length > 0) {
    const where = (id) =>
      committed
        .filter((record) => record.id === id)
        .map((record) => record.at ?? '?')
        .join(' and ');
    console.error(
      `chaos: duplicated or unexpected records (${view}), first ${twice.length} (partition@offset, provenance): ${twice
        .map(([id]) => `${id}${expectedIds.has(id) ? '' : ' (never fed)'} at ${where(id)}`)
        .join('; ')}`,
    );
  }
  const lastSeq = new Map();
  let disorder = 0;
  const firstSeen = new Set();
  for (const record of committed) {
    if (firstSeen.has(record.id)) continue;
    firstSeen.add(record.id);
    const previous = lastSeq.get(record.stream);
    if (previous !== undefined && record.seq <= previous) disorder += 1;
    lastSeq.set(record.stream, record.seq);
  }
  return { records: expectedIds.size, duplicates: duplicates + unexpected, lost, disorder, lostIds };
}

/**
 * A second look at records the read_committed verifier did not see: reads the whole topic with
 * read_uncommitted and says where each of `ids` (at most 20) is in the log, if anywhere. In the
 * log means the sink wrote it in a transaction that did not commit (or the verifier missed it);
 * nowhere means the pipeline never wrote it.
 */
export async function locateInLog(topic, ids, log) {
  const wanted = new Set(ids.slice(0, 20));
  const found = new Map();
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic).finally(() => admin.disconnect());
  const remaining = new Map(ends.map(({ partition, high }) => [partition, BigInt(high)]));
  const consumer = kafka.consumer({ groupId: uniqueName('tidemark-chaos-locate'), readUncommitted: true });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const done = new Promise((resolve) => {
    const check = () => {
      if ([...remaining.values()].every((high) => high <= 0n)) resolve();
    };
    check();
    consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) {
          const id = JSON.parse(message.value.toString('utf8')).id;
          if (wanted.has(id)) found.set(id, `${batch.partition}@${message.offset}`);
        }
        const high = remaining.get(batch.partition) ?? 0n;
        if (BigInt(batch.lastOffset()) + 1n >= high) remaining.set(batch.partition, 0n);
        check();
      },
    });
  });
  await Promise.race([done, sleep(60_000)]);
  await consumer.disconnect();
  for (const id of wanted)
    log(
      `lost ${id}: ${found.has(id) ? `in the log at partition@offset ${found.get(id)} (not seen read_committed)` : 'not in the log (never written)'}`,
    );
}

/**
 * Kills the pipeline `kills` times at random moments (SIGKILL), restarting it each time.
 * `spawnPipeline()` starts a new instance. Returns the instance left running.
 */
export async function killLoop({ kills, rng, spawnPipeline, log, minMs = 400, maxMs = 2_500, onKill }) {
  let current = spawnPipeline();
  for (let kill = 1; kill <= kills; kill += 1) {
    await sleep(rng.between(minMs, maxMs));
    if (!current.alive) {
      const code = await current.exited;
      throw new Error(
        `pipeline exited by itself with ${code} before kill ${kill}:\n${current.stderrTail.join('\n')}`,
      );
    }
    await current.kill('SIGKILL');
    if (process.env.TIDEMARK_CHAOS_VERBOSE === '1')
      log(`kill ${kill}: SIGKILLed child ${current.child?.pid}`);
    if (onKill) await onKill(kill);
    if (kill % 10 === 0 || kill === kills) log(`kill ${kill}/${kills}`);
    current = spawnPipeline();
  }
  return current;
}
