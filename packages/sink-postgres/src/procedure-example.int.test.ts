import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { server, sql, testRecord, uniqueName } from './int-test-helpers.js';
import { createPostgresSink } from './postgres-sink.js';

const example = (name: string) =>
  readFileSync(
    fileURLToPath(new URL(`../../../examples/postgres-procedure/${name}`, import.meta.url)),
    'utf8',
  );

describe('examples/postgres-procedure: visits enriched by IP inside the watermark transaction', () => {
  const schema = uniqueName('procedure_example');

  afterAll(async () => {
    await sql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  });

  it('joins each batch against ip_locations, writes two tables, exactly once across an abort', async () => {
    await sql(`CREATE SCHEMA ${schema}`);
    await sql(`SET search_path TO ${schema}; ${example('schema.sql')}`);
    await sql(`ALTER FUNCTION ${schema}.enrich_visits(jsonb) SET search_path = ${schema}`);
    const records = example('visits.jsonl')
      .trim()
      .split('\n')
      .map((line, index) => testRecord(line, index + 1));
    const sink = createPostgresSink({
      ...server,
      schema,
      procedure: 'enrich_visits',
      columns: {
        ip: 'value.ip',
        user_id: 'value.user',
        at: 'rowtime',
        source_file: 'provenance.file.path',
        source_line: 'provenance.file.line',
      },
    });
    try {
      await sink.open({ pipelineId: 'visits-enrich' });
      // A transaction that aborts leaves no trace in either table.
      await sink.begin();
      await sink.write(records);
      await sink.abort();
      await sink.begin();
      await sink.write(records);
      await sink.commit({ watermarks: { visits: { '/data/in.jsonl': 60 } }, rowtime: null });
    } finally {
      await sink.close();
    }
    const rows = await sql<{ ip: string; country: string | null; city: string | null; source_line: string }>(
      `SELECT host(ip) AS ip, country, city, source_line FROM ${schema}.visits_enriched ORDER BY source_line`,
    );
    expect(rows.map((row) => [row.ip, row.country, row.city])).toEqual([
      ['81.2.69.142', 'GB', 'London'],
      ['81.2.69.170', 'GB', 'Wimbledon'],
      ['89.160.20.112', 'SE', 'Linköping'],
      ['10.1.2.3', 'private', null],
      ['216.160.83.56', 'US', 'Milton'],
      ['192.0.2.1', null, null],
    ]);
    expect(
      await sql(`SELECT country, visits::int FROM ${schema}.visits_per_country ORDER BY country COLLATE "C"`),
    ).toEqual([
      { country: 'GB', visits: 2 },
      { country: 'SE', visits: 1 },
      { country: 'US', visits: 1 },
      { country: 'private', visits: 1 },
      { country: 'unknown', visits: 1 },
    ]);
  });
});
