// Throughput of the exactly-once file → PostgreSQL pipeline (append and COPY modes) against a
// plain `COPY … FROM STDIN` of the same rows by `pg` (pre-formatted text, one transaction),
// measured in the same run, interleaved, median of `repeat` (at least 3) rounds each; and, for
// perspective, against a plain loader that also reads and parses the file (pg-copy-loader).
//
//   npm run bench -- --scenario file-postgres [--records N] [--repeat 3]
//
// Rows: (id bigint, pad text, source_line bigint) from 100-byte JSON lines; tidemark maps
// value.id, value.pad and provenance.file.line, and stores the watermark in the same transaction.
// Last lines: bench scenario=file-postgres-<mode> records_per_s=<x> baseline=pg-copy baseline_per_s=<y> ratio=<x/y>
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Pipeline } from '@tidemark/core';
import pg from 'pg';
import copyStreams from 'pg-copy-streams';

const server = {
  host: process.env.PGHOST ?? '127.0.0.1',
  port: Number(process.env.PGPORT ?? 5432),
  database: process.env.PGDATABASE ?? 'test',
  user: process.env.PGUSER ?? 'postgres',
};
const RECORD_BYTES = 100;
const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };
const unique = (prefix) => `${prefix}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 7)}`;

async function sql(text) {
  const client = new pg.Client(server);
  await client.connect();
  try {
    return (await client.query(text)).rows;
  } finally {
    await client.end();
  }
}

async function freshTable() {
  const table = unique('bench_pg');
  await sql(`CREATE TABLE ${table} (id bigint, pad text, source_line bigint)`);
  return table;
}

/** Writes `count` JSON lines; returns the same rows as COPY text chunks of about 4 MiB. */
function makeInput(directory, count) {
  const lines = [];
  const chunks = [];
  let chunk = '';
  for (let index = 0; index < count; index += 1) {
    const prefix = `{"id":${index},"pad":"`;
    const pad = 'x'.repeat(RECORD_BYTES - 1 - prefix.length - 2);
    lines.push(`${prefix}${pad}"}`);
    chunk += `${index}\t${pad}\t${index + 1}\n`;
    if (chunk.length >= 4 * 1024 * 1024) {
      chunks.push(chunk);
      chunk = '';
    }
  }
  if (chunk) chunks.push(chunk);
  fs.writeFileSync(path.join(directory, 'input.jsonl'), `${lines.join('\n')}\n`);
  return chunks;
}

/**
 * A plain loader, for perspective: reads the same file, parses each JSON line, formats the
 * row and streams it through one COPY FROM STDIN (what one would write without Tidemark, with
 * no watermark and no recovery).
 */
async function loader(directory, count) {
  const started = performance.now();
  const text = fs.readFileSync(path.join(directory, 'input.jsonl'), 'utf8');
  const chunks = [];
  let chunk = '';
  let line = 0;
  for (const json of text.split('\n')) {
    if (!json) continue;
    line += 1;
    const value = JSON.parse(json);
    chunk += `${value.id}\t${value.pad}\t${line}\n`;
    if (chunk.length >= 256 * 1024) {
      chunks.push(chunk);
      chunk = '';
    }
  }
  if (chunk) chunks.push(chunk);
  return baseline(chunks, count, started);
}

/** The baseline: the same rows, pre-formatted, through one COPY FROM STDIN in one transaction. */
async function baseline(chunks, count, startedAt) {
  const table = await freshTable();
  const client = new pg.Client(server);
  await client.connect();
  try {
    const started = startedAt ?? performance.now();
    await client.query('BEGIN');
    const stream = client.query(copyStreams.from(`COPY ${table} (id, pad, source_line) FROM STDIN`));
    await new Promise((resolve, reject) => {
      stream.on('error', reject);
      stream.on('finish', resolve);
      (async () => {
        for (const chunk of chunks) {
          if (!stream.write(chunk)) await new Promise((drained) => stream.once('drain', drained));
        }
        stream.end();
      })().catch(reject);
    });
    await client.query('COMMIT');
    return count / ((performance.now() - started) / 1000);
  } finally {
    await client.end();
    await sql(`DROP TABLE ${table}`);
  }
}

/** Tidemark: bounded file source → PostgreSQL sink in `mode`, committing every second. */
async function tidemark(directory, count, mode) {
  const [{ default: fileSource }, { default: postgresSink }] = await Promise.all([
    import('@tidemark/source-file'),
    import('@tidemark/sink-postgres'),
  ]);
  const table = await freshTable();
  const watermarkTable = `${table}_watermarks`;
  const context = (name) => ({ name, logger: silent, signal: new AbortController().signal });
  const source = fileSource.create(
    fileSource.configSchema.parse({ directory, pattern: '*.jsonl', format: 'lines', watch: false }),
    context('bench-file'),
  );
  const sink = postgresSink.create(
    postgresSink.configSchema.parse({
      ...server,
      table,
      mode,
      watermarkTable,
      columns: { id: 'value.id', pad: 'value.pad', source_line: 'provenance.file.line' },
    }),
    context('sink'),
  );
  const pipeline = new Pipeline({
    id: unique('bench'),
    sources: [source],
    sink,
    commit: { maxWallMs: 1_000, maxRecords: 1_000_000, maxBytes: 256 * 1024 * 1024 },
  });
  try {
    const started = performance.now();
    const { status } = await pipeline.run();
    const perSecond = count / ((performance.now() - started) / 1000);
    const [{ rows }] = await sql(`SELECT count(*)::int AS rows FROM ${table}`);
    if (status.recordsOut !== count || rows !== count) {
      throw new Error(`pipeline delivered ${status.recordsOut} (table has ${rows}) of ${count} records`);
    }
    return perSecond;
  } finally {
    await sql(`DROP TABLE IF EXISTS ${table}, ${table}_dead_letter, ${watermarkTable}`);
  }
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

export async function filePostgres({ records, repeat }) {
  const count = records ? Number(records) : 200_000;
  const rounds = Math.max(3, Number(repeat ?? 3));
  console.log(
    `bench: node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, postgres ${server.host}:${server.port}/${server.database}`,
  );
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'tidemark-bench-pg-'));
  const chunks = makeInput(directory, count);
  const measured = { baseline: [], loader: [], append: [], copy: [] };
  try {
    // Interleaved so that no side gets a warmer server or a quieter machine.
    for (let round = 0; round < rounds; round += 1) {
      measured.baseline.push(await baseline(chunks, count));
      measured.loader.push(await loader(directory, count));
      measured.append.push(await tidemark(directory, count, 'append'));
      measured.copy.push(await tidemark(directory, count, 'copy'));
    }
  } finally {
    fs.rmSync(directory, { recursive: true, force: true });
  }
  const base = median(measured.baseline);
  const plain = median(measured.loader);
  console.log(
    `  ${count} records of ${RECORD_BYTES} B, ${rounds} rounds (rec/s): pg COPY of pre-formatted rows ${measured.baseline.map(Math.round).join(', ')}; ` +
      `plain loader (read, JSON.parse, COPY) ${measured.loader.map(Math.round).join(', ')}; ` +
      `tidemark append ${measured.append.map(Math.round).join(', ')}; tidemark copy ${measured.copy.map(Math.round).join(', ')}`,
  );
  for (const mode of ['append', 'copy']) {
    const ours = median(measured[mode]);
    console.log(
      `bench scenario=file-postgres-${mode} records_per_s=${Math.round(ours)} baseline=pg-copy baseline_per_s=${Math.round(base)} ratio=${(ours / base).toFixed(2)}`,
    );
    console.log(
      `bench scenario=file-postgres-${mode} records_per_s=${Math.round(ours)} baseline=pg-copy-loader baseline_per_s=${Math.round(plain)} ratio=${(ours / plain).toFixed(2)}`,
    );
  }
}
