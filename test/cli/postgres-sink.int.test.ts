import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireBuiltCli, tidemark, uniqueName } from './helpers.js';

const server = {
  host: process.env.PGHOST ?? '127.0.0.1',
  port: Number(process.env.PGPORT ?? 5432),
  database: process.env.PGDATABASE ?? 'test',
  user: process.env.PGUSER ?? 'postgres',
};

async function sql<Row = Record<string, unknown>>(text: string): Promise<Row[]> {
  const client = new pg.Client(server);
  await client.connect();
  try {
    return (await client.query(text)).rows as Row[];
  } finally {
    await client.end();
  }
}

describe('tidemark run / watermarks show / reset with the postgres sink', () => {
  const directory = mkdtempSync(join(tmpdir(), 'tidemark-cli-pg-'));
  const table = uniqueName('cli_events').replaceAll('-', '_');
  const pipeline = uniqueName('cli-pg');
  const config = join(directory, 'pipeline.yaml');

  beforeAll(() => {
    requireBuiltCli();
    const lines = [1, 2, 3, 4, 5].map((id) => JSON.stringify({ id, name: `n${id}` }));
    writeFileSync(join(directory, 'in.jsonl'), `${lines.join('\n')}\n`);
    writeFileSync(
      config,
      [
        'pipelines:',
        `  - name: ${pipeline}`,
        '    sources:',
        '      - name: lines',
        '        type: file',
        `        directory: ${directory}`,
        '        pattern: "*.jsonl"',
        '        format: jsonl',
        '        watch: false',
        '    sink:',
        '      type: postgres',
        `      host: ${server.host}`,
        `      port: ${server.port}`,
        `      database: ${server.database}`,
        `      user: ${server.user}`,
        `      table: ${table}`,
        '      createTable: true',
        '      columns:',
        '        id: { from: value.id, type: bigint }',
        '        name: value.name',
        '        source_line: provenance.file.line',
        '',
      ].join('\n'),
    );
  });

  afterAll(async () => {
    rmSync(directory, { recursive: true, force: true });
    await sql(`DROP TABLE IF EXISTS ${table}, ${table}_dead_letter`);
  });

  it('runs to the end, shows the committed watermark, resets it deliberately', async () => {
    const run = await tidemark(['run', config, '--until-idle', '--no-lease']);
    expect(run.code, run.stderr).toBe(0);
    expect(await sql(`SELECT id::int FROM ${table} ORDER BY id`)).toEqual(
      [1, 2, 3, 4, 5].map((id) => ({ id })),
    );

    const shown = await tidemark(['watermarks', 'show', config, '--json']);
    expect(shown.code, shown.stderr).toBe(0);
    const [state] = JSON.parse(shown.stdout) as { pipeline: string; watermarks: Record<string, unknown> }[];
    expect(state!.pipeline).toBe(pipeline);
    expect(state!.watermarks.lines).toMatchObject({ finished: { count: 1 } });

    // A running pipeline holds its run lease, a session advisory lock in the sink's database
    // (packages/sink-postgres/src/run-lease.ts): hold it as `tidemark run` would.
    const holder = new pg.Client(server);
    await holder.connect();
    const resetArguments = ['watermarks', 'reset', config, '--pipeline', pipeline, '--to', 'earliest'];
    try {
      await holder.query(`SELECT pg_advisory_lock(hashtextextended('tidemark.lease:' || $1, 0))`, [pipeline]);
      const refused = await tidemark(resetArguments);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain(`pipeline '${pipeline}' is running`);
      expect(refused.stderr).toContain('fix: Stop it first');
    } finally {
      await holder.end();
    }

    // Nobody holds it now: the reset goes through without --force.
    const reset = await tidemark(resetArguments);
    expect(reset.code, reset.stderr).toBe(0);
    const after = await tidemark(['watermarks', 'show', config, '--json']);
    expect((JSON.parse(after.stdout) as { watermarks: object }[])[0]!.watermarks).toEqual({});

    const again = await tidemark(['run', config, '--until-idle', '--no-lease']);
    expect(again.code, again.stderr).toBe(0);
    expect((await sql(`SELECT count(*)::int AS n FROM ${table}`))[0]).toEqual({ n: 10 });
  });
});
