// File source → PostgreSQL sink (COPY mode). The pipeline is SIGKILLed at random and its sink
// connection terminated by the server (pg_terminate_backend), mostly while it runs COMMIT;
// the rows are then counted by record id and by provenance (byte position per file generation).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { random, uniqueName } from '../harness.mjs';
import {
  PostgresVerifier,
  runPostgresScenario,
  sinkOptions,
  slowCommitWatermarkTable,
  sql,
} from '../postgres.mjs';
import { FileFeeder, fileSourceSpec } from '../scenarios.mjs';

export async function filePostgres({ kills, seed, log }) {
  const rng = random(seed);
  const table = uniqueName('chaos_file_pg').replaceAll('-', '_');
  await sql(`CREATE TABLE ${table} (row_id bigserial, id text NOT NULL, stream text, seq bigint,
    path text, position bigint, line bigint, at timestamptz)`);
  await slowCommitWatermarkTable(`${table}_watermarks`, 150);
  // A line's provenance is its byte position within one generation of a file (truncation in
  // place reuses path and positions; `stream` names the generation, rotation renames the path).
  const reader = new PostgresVerifier(table, ['stream', 'position']);
  await reader.start();
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'tidemark-chaos-file-pg-'));
  const feeder = new FileFeeder(directory, rng, reader);
  feeder.start();
  const pipelineId = uniqueName('chaos-file-pg');
  const spec = {
    pipelineId,
    sources: [fileSourceSpec(directory)],
    sink: {
      package: '@tidemark/sink-postgres',
      options: sinkOptions(table, 'copy', {
        id: 'value.id',
        stream: 'value.stream',
        seq: 'value.seq',
        path: 'provenance.file.path',
        position: 'provenance.file.position',
        line: 'provenance.file.line',
        at: 'rowtime',
      }),
    },
    commit: { maxWallMs: 300, maxRecords: 2_000 },
  };
  const result = await runPostgresScenario({
    kills,
    rng,
    log,
    spec,
    feeder,
    reader,
    notes: () => {
      const { rotations, truncations, deletions } = feeder.stats;
      return `rotations=${rotations} truncations=${truncations} deletions=${deletions}`;
    },
  });
  fs.rmSync(directory, { recursive: true, force: true });
  return result;
}
