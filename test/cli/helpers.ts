/**
 * Helpers for the CLI end-to-end tests: spawn the built `tidemark` binary, collect its output,
 * and read a topic back with read_committed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import kafkajs from 'kafkajs';

const { Kafka, logLevel } = kafkajs;

export const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));
export const binary = fileURLToPath(new URL('../../packages/cli/dist/bin.js', import.meta.url));
export const brokers = (process.env.TIDEMARK_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');

/** Fails with an actionable message when the CLI was not built (these tests run the real binary). */
export function requireBuiltCli(): void {
  if (!existsSync(binary)) {
    throw new Error(
      'packages/cli/dist/bin.js is missing: run `npx turbo run build` before the CLI end-to-end tests.',
    );
  }
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/** Matches a line of a JavaScript stack trace. */
export const STACK_LINE = /^\s+at .+(\(.+:\d+:\d+\)|:\d+:\d+)$/m;

export interface Finished {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A running `tidemark` process whose output accumulates as it arrives. */
export interface Running {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  readonly finished: Promise<Finished>;
  /** Resolves once stdout (or stderr) contains `text`; rejects after `timeoutMs` or on exit. */
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<void>;
}

export function start(
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; command?: string } = {},
): Running {
  const command = options.command ?? process.execPath;
  const fullArgs = options.command ? [...args] : [binary, ...args];
  const child = spawn(command, fullArgs, {
    cwd: options.cwd ?? repositoryRoot,
    env: { ...process.env, LOG_LEVEL: '', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString('utf8');
  });
  const finished = new Promise<Finished>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout: out, stderr: err }));
  });
  let exited = false;
  void finished.then(() => {
    exited = true;
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    finished,
    async waitFor(text, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      const seen = () => (typeof text === 'string' ? (out + err).includes(text) : text.test(out + err));
      while (!seen()) {
        if (exited) throw new Error(`process exited before printing ${String(text)}:\n${out}\n${err}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${String(text)}:\n${out}\n${err}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
  };
}

/** Runs `tidemark args…` to completion. */
export function tidemark(
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<Finished> {
  return start(args, options).finished;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export interface ConsumedMessage {
  readonly key: string | null;
  readonly value: string;
  readonly headers: Record<string, string>;
}

/**
 * Reads `topic` from the beginning with read_committed until `done(messages)` holds and no new
 * message arrived for `settleMs` (so duplicates arriving late are seen), or `timeoutMs` passes.
 */
export async function readCommitted(
  topic: string,
  done: (messages: readonly ConsumedMessage[]) => boolean,
  options: { timeoutMs?: number; settleMs?: number } = {},
): Promise<ConsumedMessage[]> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const settleMs = options.settleMs ?? 1_000;
  const kafka = new Kafka({ clientId: 'cli-test-reader', brokers, logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({
    groupId: uniqueName('cli-test-reader'),
    readUncommitted: false,
    maxWaitTimeInMs: 200,
  });
  const messages: ConsumedMessage[] = [];
  // A consumer may be handed a record twice (a rebalance before its offsets were committed);
  // that is the reader's artefact, not a duplicate in the topic: count each offset once.
  const seen = new Set<string>();
  let lastArrival = Date.now();
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        const position = `${partition}@${message.offset}`;
        if (seen.has(position)) return;
        seen.add(position);
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(message.headers ?? {})) headers[name] = String(value);
        messages.push({
          key: message.key?.toString('utf8') ?? null,
          value: message.value?.toString('utf8') ?? '',
          headers,
        });
        lastArrival = Date.now();
      },
    });
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (done(messages) && Date.now() - lastArrival >= settleMs) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await consumer.disconnect();
  }
  return messages;
}

/** Counts how often each id occurs in JSON values `{ "id": … }`. */
export function idCounts(messages: readonly ConsumedMessage[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const message of messages) {
    const id = (JSON.parse(message.value) as { id: number }).id;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

/** Creates `topics` (one partition each) so readers can subscribe before the first write. */
export async function createTopics(...topics: string[]): Promise<void> {
  const admin = new Kafka({ clientId: 'cli-test-admin', brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: topics.map((topic) => ({ topic, numPartitions: 1 })),
      waitForLeaders: true,
    });
  } finally {
    await admin.disconnect();
  }
}

/** Awaits `work`, failing with `label` and the process output when `running` exits first or `timeoutMs` passes. */
export async function whileRunning<T>(
  running: Running,
  label: string,
  work: Promise<T>,
  timeoutMs = 60_000,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      running.finished.then((result) => {
        throw new Error(
          `${label}: tidemark exited (${result.code}) first:\n${result.stdout.slice(-2000)}\n${result.stderr}`,
        );
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new Error(
                `${label}: not done within ${timeoutMs} ms:\n${running.stdout().slice(-2000)}\n${running.stderr()}`,
              ),
            ),
          timeoutMs,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
