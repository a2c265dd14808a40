// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${NAME}` is the configuration's interpolation syntax, written on purpose.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  brokers,
  createTopics,
  freePort,
  idCounts,
  readCommitted,
  requireBuiltCli,
  STACK_LINE,
  start,
  tidemark,
  uniqueName,
  whileRunning,
} from './helpers.js';

const LINES_PER_FILE = 10_000;
const FILES = 3;
const TOTAL = LINES_PER_FILE * FILES;

function orderLines(file: number): string {
  const lines: string[] = [];
  for (let line = 0; line < LINES_PER_FILE; line += 1) {
    const id = file * LINES_PER_FILE + line;
    lines.push(JSON.stringify({ id, at: 1_767_600_000_000 + id * 1000, note: 'x'.repeat(40) }));
  }
  return `${lines.join('\n')}\n`;
}

describe('tidemark run: file → Kafka, stop, restart, watermarks', () => {
  let directory: string;
  let config: string;
  const topic = uniqueName('cli-e2e');
  const pipeline = uniqueName('cli-e2e-pipeline');

  beforeAll(async () => {
    requireBuiltCli();
    await createTopics(topic);
    directory = mkdtempSync(join(tmpdir(), 'tidemark-cli-e2e-'));
    const data = join(directory, 'data');
    mkdirSync(data);
    for (let file = 0; file < FILES; file += 1)
      writeFileSync(join(data, `orders-${file}.jsonl`), orderLines(file));
    config = join(directory, 'pipeline.yaml');
    writeFileSync(
      config,
      [
        'pipelines:',
        `  - name: ${pipeline}`,
        '    sources:',
        '      - name: orders',
        '        type: file',
        '        directory: ${TIDEMARK_CONFIG_DIR}/data',
        "        pattern: '*.jsonl'",
        '        format: jsonl',
        '        rowtimeField: at',
        '        watch: false',
        '    sink:',
        '      type: kafka',
        `      brokers: [${brokers.map((broker) => `'${broker}'`).join(', ')}]`,
        `      topic: ${topic}`,
        '    commit:',
        '      maxRecords: 500',
        '      interval: 200ms',
        '    batch:',
        '      maxRecords: 250',
        '',
      ].join('\n'),
    );
  });

  afterAll(() => {
    rmSync(directory, { recursive: true, force: true });
  });

  it('stops gracefully on SIGTERM mid-run, resumes, holds the lease, and writes every line exactly once', async () => {
    // Run 1: SIGTERM as soon as the first transaction is visible to read_committed readers.
    const first = start(['run', config]);
    await whileRunning(
      first,
      'first committed record',
      readCommitted(topic, (messages) => messages.length > 0, { settleMs: 0, timeoutMs: 60_000 }),
    );
    first.child.kill('SIGTERM');
    const firstResult = await first.finished;
    expect(firstResult.code, firstResult.stderr).toBe(0);
    expect(firstResult.stdout).toContain('"msg":"pipeline stopped"');
    expect(firstResult.stdout).toContain('"msg":"effective configuration"');
    const stopped = firstResult.stdout.split('\n').find((line) => line.includes('"msg":"pipeline stopped"'))!;
    const { status, reason } = JSON.parse(stopped) as { status: { recordsOut: number }; reason: string };
    // Stopped mid-run: by the signal, with part of the input written.
    expect(reason).toBe('stopped');
    expect(status.recordsOut).toBeGreaterThan(0);
    expect(status.recordsOut).toBeLessThan(TOTAL);

    // Run 2 stays up after the files end (no --until-idle): metrics, health, lease.
    const port = await freePort();
    const second = start(['run', config, '--metrics-port', String(port)]);
    await second.waitFor('"msg":"liveness lease held"');
    const written = await whileRunning(
      second,
      'every record committed',
      readCommitted(topic, (messages) => messages.length >= TOTAL, { timeoutMs: 60_000 }),
      70_000,
    );
    const counts = idCounts(written);
    expect(counts.size).toBe(TOTAL);
    expect([...counts.values()].every((count) => count === 1)).toBe(true);

    const health = await fetch(`http://127.0.0.1:${port}/health`);
    expect(health.status).toBe(200);
    const body = (await health.json()) as { status: string; pipelines: { id: string; state: string }[] };
    expect(body.pipelines[0]).toMatchObject({ id: pipeline, state: 'running' });
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toMatch(
      new RegExp(`tidemark_records_in_total\\{pipeline="${pipeline}",source="orders"\\} \\d+`),
    );
    expect(metrics).toContain(`tidemark_commits_total{pipeline="${pipeline}"}`);
    expect(metrics).toContain('tidemark_commit_duration_seconds_bucket');

    const refused = await tidemark([
      'watermarks',
      'reset',
      config,
      '--pipeline',
      pipeline,
      '--to',
      'earliest',
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`pipeline '${pipeline}' is running`);
    expect(refused.stderr).toContain(`pid ${second.child.pid}`);
    expect(refused.stderr).not.toMatch(STACK_LINE);

    const shown = await tidemark(['watermarks', 'show', config, '--pipeline', pipeline]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain(`pipeline ${pipeline}`);
    expect(shown.stdout).toContain(
      `watermark_timestamp (last committed rowtime): ${1_767_600_000_000 + (TOTAL - 1) * 1000} (`,
    );
    expect(shown.stdout).toContain(new Date(1_767_600_000_000 + (TOTAL - 1) * 1000).toISOString());
    expect(shown.stdout).toMatch(/ {4}orders: \{.+\}/);

    const shownJson = await tidemark(['watermarks', 'show', config, '--json']);
    const complete = (JSON.parse(shownJson.stdout) as { watermarks: Record<string, unknown> }[])[0]!
      .watermarks;
    expect(Object.keys(complete)).toEqual(['orders']);

    second.child.kill('SIGINT');
    const secondResult = await second.finished;
    expect(secondResult.code, secondResult.stderr).toBe(0);

    // Run 3 after a deliberate rewind to earliest replays everything once more.
    const reset = await tidemark(['watermarks', 'reset', config, '--pipeline', pipeline, '--to', 'earliest']);
    expect(reset.code, reset.stderr).toBe(0);
    expect(reset.stdout).toContain(`pipeline ${pipeline}: watermarks reset to earliest`);
    const afterReset = await tidemark(['watermarks', 'show', config, '--json']);
    const state = JSON.parse(afterReset.stdout) as {
      watermarks: Record<string, unknown>;
      rowtime: number | null;
    }[];
    // The source's watermark is gone: its next open applies the configured start.
    expect(state[0]).toMatchObject({ watermarks: {}, rowtime: null });
    expect(state[0]?.watermarks).not.toHaveProperty('orders');

    const third = await tidemark(['run', config, '--until-idle']);
    expect(third.code, third.stderr).toBe(0);
    const replayed = await readCommitted(topic, (messages) => messages.length >= 2 * TOTAL, {
      timeoutMs: 90_000,
    });
    const replayCounts = idCounts(replayed);
    expect(replayCounts.size).toBe(TOTAL);
    const histogram: Record<number, number> = {};
    for (const count of replayCounts.values()) histogram[count] = (histogram[count] ?? 0) + 1;
    expect(
      [...replayCounts.values()].every((count) => count === 2),
      `copies per line: ${JSON.stringify(histogram)}`,
    ).toBe(true);

    // An explicit JSON watermark: forward to the end again, so a further run writes nothing.
    await tidemark(['watermarks', 'reset', config, '--pipeline', pipeline, '--to', 'earliest']);
    const forward = await tidemark([
      'watermarks',
      'reset',
      config,
      '--pipeline',
      pipeline,
      '--to',
      JSON.stringify(complete),
    ]);
    expect(forward.code, forward.stderr).toBe(0);
    const fourth = await tidemark(['run', config, '--until-idle']);
    expect(fourth.code, fourth.stderr).toBe(0);
    const fourthStopped = fourth.stdout
      .split('\n')
      .find((line) => line.includes('"msg":"pipeline stopped"'))!;
    expect((JSON.parse(fourthStopped) as { status: { recordsOut: number } }).status.recordsOut).toBe(0);
  });
});
