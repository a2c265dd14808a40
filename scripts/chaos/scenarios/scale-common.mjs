// Building blocks of the scale-out and stand-by scenarios: real `tidemark run` processes sharing
// one YAML file (so the task group of the CLI is what is under test), their logs parsed for
// assignments, and the takeover time after a SIGKILL.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { brokers, PipelineProcess, sleep, verify } from '../harness.mjs';

const TIDEMARK = fileURLToPath(new URL('../../../packages/cli/bin/tidemark.js', import.meta.url));

/** Writes a YAML file for a Kafka → Kafka pipeline run as `tasks` tasks with group membership. */
export function writeTaskPipeline({ pipelineId, inputTopic, sinkTopic, tasks }) {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'tidemark-chaos-scale-'));
  const file = path.join(directory, 'pipeline.yaml');
  const list = JSON.stringify(brokers);
  fs.writeFileSync(
    file,
    [
      'pipelines:',
      `  - name: ${pipelineId}`,
      `    tasks: ${tasks}`,
      '    group: { enabled: true }',
      '    sources:',
      `      - { name: input, type: kafka, brokers: ${list}, topics: [${inputTopic}], start: earliest }`,
      `    sink: { type: kafka, brokers: ${list}, topic: ${sinkTopic}, clientId: tidemark-chaos }`,
      '    commit: { interval: 300ms, maxRecords: 2000 }',
      '    retry: { maxConsecutiveFailures: 50, initialBackoff: 200ms, maxBackoff: 2s }',
      '',
    ].join('\n'),
  );
  return file;
}

/**
 * One `tidemark run` process. Its JSON log lines (stdout) are parsed: `tasks` is the set it
 * owns after the last rebalance, `started` the time each task was last started here.
 */
export class Instance {
  constructor(file, name, log) {
    this.name = name;
    this.log = log;
    this.tasks = [];
    this.joined = false;
    this.started = [];
    this.stderrTail = [];
    this.child = spawn(process.execPath, [TIDEMARK, 'run', file, '--shutdown-timeout', '20s'], {
      env: { ...process.env, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let pending = '';
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (chunk) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop();
      for (const line of lines) this.#line(line);
    });
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (chunk) => {
      this.stderrTail = [...this.stderrTail, ...chunk.split('\n').filter(Boolean)].slice(-30);
    });
    this.alive = true;
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => resolve(code ?? signal)),
    );
    this.exited.then(() => {
      this.alive = false;
    });
  }

  #line(line) {
    let entry;
    try {
      entry = JSON.parse(line);
    } catch {
      return;
    }
    if (process.env.TIDEMARK_CHAOS_VERBOSE === '1')
      this.log(`${this.name}: ${entry.msg} ${JSON.stringify(entry.tasks ?? entry.task ?? '')}`);
    if (entry.msg === 'task group rebalanced') this.tasks = entry.tasks;
    if (entry.msg === 'joined the task group') this.joined = true;
    if (entry.msg === 'starting task') this.started.push({ task: entry.task, at: entry.time });
    if (entry.severity === 'error' || entry.severity === 'fatal') {
      this.stderrTail.push(line);
      if (this.stderrTail.length > 30) this.stderrTail.shift();
    }
  }

  async waitJoined(timeoutMs = 30_000) {
    const deadline = Date.now() + timeoutMs;
    while (!this.joined && Date.now() < deadline) {
      if (!this.alive) throw new Error(`${this.name} exited: ${this.stderrTail.join('\n')}`);
      await sleep(50);
    }
    if (!this.joined) throw new Error(`${this.name} did not join the task group in ${timeoutMs} ms`);
  }
}

// kill(signal) and stop(timeoutMs) (SIGTERM, then SIGKILL) work on any child with alive/exited.
Instance.prototype.kill = PipelineProcess.prototype.kill;
Instance.prototype.stop = PipelineProcess.prototype.stop;

/** Task ids `task-<n>` (or `task-0` for a one-task pipeline) of an instance's owned tasks. */
export function taskNames(tasks) {
  return tasks.map((task) => `task-${task}`);
}

/**
 * Waits until every task in `lost` was started by one of `others` after `killedAt`; returns the
 * milliseconds from the kill to the last of those starts, or undefined after `timeoutMs`.
 */
export async function takeover(lost, others, killedAt, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const starts = lost.map((task) => {
      const times = others
        .flatMap((instance) => instance.started)
        .filter((start) => start.task === task && start.at >= killedAt)
        .map((start) => start.at);
      return times.length === 0 ? undefined : Math.min(...times);
    });
    if (starts.every((at) => at !== undefined)) return Math.max(...starts) - killedAt;
    await sleep(50);
  }
  return undefined;
}

export function median(values) {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : Math.round((sorted[middle - 1] + sorted[middle]) / 2);
}

/**
 * Runs `body` (the scenario's kills), then stops feeding, waits for every fed record to be
 * committed, stops the instances (also when `body` threw) and verifies what the sink committed.
 */
export async function runAndVerify({ feeder, reader, instances, log }, body) {
  try {
    await body();
    await feeder.stop();
    log(`feeding stopped: ${feeder.expected.length} source records; waiting for the pipeline to commit them`);
    await reader.waitFor(new Set(feeder.expected.map((record) => record.id)).size, { progress: log });
  } finally {
    if (feeder.running) await feeder.stop();
    const codes = await Promise.all(instances.map((instance) => instance.stop()));
    if (codes.some((code) => code !== 0)) log(`instances exited with ${codes.join(', ')}`);
    await reader.waitFor(0, { settleMs: 1_500 });
    await reader.stop();
  }
  return verify(feeder.expected, reader.records);
}
