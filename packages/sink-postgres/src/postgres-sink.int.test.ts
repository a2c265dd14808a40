import type { PipelineWatermarks } from '@tidemark/sdk';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { CommitCutProxy, expectCode, server, sql, testRecord, uniqueName } from './int-test-helpers.js';
import { createPostgresSink, type PostgresSink } from './postgres-sink.js';

const openSinks: PostgresSink[] = [];
const proxies: CommitCutProxy[] = [];

afterEach(async () => {
  await Promise.all(openSinks.splice(0).map((sink) => sink.close()));
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
});

const WATERMARK_TABLE = 'tidemark_watermarks_test';

function sinkFor(options: Record<string, unknown>): PostgresSink {
  const sink = createPostgresSink({ ...server, watermarkTable: WATERMARK_TABLE, ...options });
  openSinks.push(sink);
  return sink;
}

const EVENT_COLUMNS = {
  id: 'value.id',
  name: 'value.name',
  at: 'rowtime',
  source_path: 'provenance.file.path',
  source_line: 'provenance.file.line',
};

async function eventsTable(extra = ''): Promise<string> {
  const table = uniqueName('events');
  await sql(
    `CREATE TABLE ${table} (id integer NOT NULL, name varchar(8), at timestamptz, source_path text, source_line bigint${extra})`,
  );
  return table;
}

function watermarksAt(line: number): PipelineWatermarks {
  return { files: { '/data/in.jsonl': line * 10 } };
}

/** A sink connected through a COMMIT-cutting proxy, opened, with record 1 written in a transaction. */
async function sinkBehindProxy() {
  const proxy = new CommitCutProxy();
  proxies.push(proxy);
  await proxy.start();
  const table = await eventsTable();
  const identity = { pipelineId: uniqueName('p') };
  const sink = sinkFor({ table, columns: EVENT_COLUMNS, port: proxy.port });
  await sink.open(identity);
  await sink.begin();
  await sink.write([testRecord({ id: 1 }, 1)]);
  return { proxy, table, identity, sink };
}

describe('postgres sink against the real server', () => {
  it('commits rows and the watermark in one transaction; open reads the watermark back', async () => {
    const table = await eventsTable();
    const identity = { pipelineId: uniqueName('p') };
    const sink = sinkFor({ table, columns: EVENT_COLUMNS });
    expect(await sink.open(identity)).toEqual({ watermarks: {}, rowtime: null, committedAt: null });
    await sink.begin();
    await sink.write([testRecord({ id: 1, name: 'one' }, 1), testRecord({ id: 2, name: 'two' }, 2)]);
    expect(await sql(`SELECT * FROM ${table}`)).toEqual([]);
    await sink.commit({ watermarks: watermarksAt(2), rowtime: 1_700_000_000_002 });

    const rows = await sql<{ id: number; name: string; source_path: string; source_line: string; at: Date }>(
      `SELECT * FROM ${table} ORDER BY id`,
    );
    expect(rows.map((row) => [row.id, row.name, row.source_path, row.source_line])).toEqual([
      [1, 'one', '/data/in.jsonl', '1'],
      [2, 'two', '/data/in.jsonl', '2'],
    ]);
    expect(rows[1]!.at.getTime()).toBe(1_700_000_000_002);
    const [stored] = await sql<{ watermark: string; sequence: string; epoch: string }>(
      `SELECT watermark, sequence, epoch FROM ${WATERMARK_TABLE} WHERE pipeline_id = $1`,
      [identity.pipelineId],
    );
    expect(stored!.watermark.startsWith('tm1:j:')).toBe(true);
    expect(stored!.sequence).toBe('1');
    await sink.close();

    const again = sinkFor({ table, columns: EVENT_COLUMNS });
    const state = await again.open(identity);
    expect(state.watermarks).toEqual(watermarksAt(2));
    expect(state.rowtime).toBe(1_700_000_000_002);
    expect(again.epoch).toBe(2);
    expect(await again.readCommitted(identity)).toEqual(state);
  });

  it('abort leaves neither rows nor watermark', async () => {
    const table = await eventsTable();
    const identity = { pipelineId: uniqueName('p') };
    const sink = sinkFor({ table, columns: EVENT_COLUMNS });
    await sink.open(identity);
    await sink.begin();
    await sink.write([testRecord({ id: 1 }, 1)]);
    await sink.abort();
    expect(sink.state).toBe('idle');
    expect(await sql(`SELECT * FROM ${table}`)).toEqual([]);
    expect((await sink.readCommitted(identity)).watermarks).toEqual({});
  });

  it('a second instance fences the first: its commit writes nothing, and it stays fenced', async () => {
    const table = await eventsTable();
    const identity = { pipelineId: uniqueName('p') };
    const first = sinkFor({ table, columns: EVENT_COLUMNS });
    await first.open(identity);
    await first.begin();
    await first.write([testRecord({ id: 1 }, 1)]);
    await first.commit({ watermarks: watermarksAt(1), rowtime: null });
    await first.begin();
    await first.write([testRecord({ id: 2 }, 2)]);

    const second = sinkFor({ table, columns: EVENT_COLUMNS });
    expect((await second.open(identity)).watermarks).toEqual(watermarksAt(1));

    await expectCode(first.commit({ watermarks: watermarksAt(2), rowtime: null }), 'FENCED');
    await expectCode(first.abort(), 'FENCED');
    await expectCode(first.recover(), 'FENCED');
    expect(await sql(`SELECT id FROM ${table} ORDER BY id`)).toEqual([{ id: 1 }]);
    // Reading after the fencing sees the last real commit; readCommitted fences nobody.
    expect((await first.readCommitted(identity)).watermarks).toEqual(watermarksAt(1));

    await second.begin();
    await second.write([testRecord({ id: 3 }, 3)]);
    await second.commit({ watermarks: watermarksAt(3), rowtime: null });
    expect(await sql(`SELECT id FROM ${table} ORDER BY id`)).toEqual([{ id: 1 }, { id: 3 }]);
    expect((await second.readCommitted(identity)).watermarks).toEqual(watermarksAt(3));
  });

  it('open waits for a transaction holding the watermark row (a commit in flight), up to lockTimeoutMs', async () => {
    const table = await eventsTable();
    const identity = { pipelineId: uniqueName('p') };
    const first = sinkFor({ table, columns: EVENT_COLUMNS });
    await first.open(identity);
    await first.close();
    // Hold the row lock as an older instance's commit in flight does.
    const holder = new pg.Client(server);
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT 1 FROM ${WATERMARK_TABLE} WHERE pipeline_id = $1 FOR UPDATE`, [
        identity.pipelineId,
      ]);
      const impatient = sinkFor({ table, columns: EVENT_COLUMNS, lockTimeoutMs: 300 });
      const timeout = await expectCode(impatient.open(identity), 'TIMEOUT');
      expect(timeout.retriable).toBe(true);

      const second = sinkFor({ table, columns: EVENT_COLUMNS });
      let opened = false;
      const opening = second.open(identity).then((state) => {
        opened = true;
        return state;
      });
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(opened).toBe(false);
      await holder.query('COMMIT');
      await opening;
      expect(second.epoch).toBe(2);
    } finally {
      await holder.end();
    }
  });

  it('an uncertain commit that landed is recovered as committed, on a new connection', async () => {
    const { proxy, table, identity, sink } = await sinkBehindProxy();
    proxy.armCommit('after');
    await expectCode(sink.commit({ watermarks: watermarksAt(1), rowtime: null }), 'COMMIT_UNCERTAIN');
    expect(sink.state).toBe('uncertain');
    await expectCode(sink.abort(), 'ILLEGAL_STATE');
    await expectCode(sink.begin(), 'ILLEGAL_STATE');
    const state = await sink.recover();
    expect(state.watermarks).toEqual(watermarksAt(1));
    expect(await sql(`SELECT id FROM ${table}`)).toEqual([{ id: 1 }]);
    await sink.begin();
    await sink.write([testRecord({ id: 2 }, 2)]);
    await sink.commit({ watermarks: watermarksAt(2), rowtime: null });
    expect((await sink.readCommitted(identity)).watermarks).toEqual(watermarksAt(2));
  });

  it('an uncertain commit that never arrived is recovered as not committed', async () => {
    const { proxy, table, sink } = await sinkBehindProxy();
    await sink.commit({ watermarks: watermarksAt(1), rowtime: null });
    await sink.begin();
    await sink.write([testRecord({ id: 2 }, 2)]);
    proxy.armCommit('before');
    await expectCode(sink.commit({ watermarks: watermarksAt(2), rowtime: null }), 'COMMIT_UNCERTAIN');
    const state = await sink.recover();
    expect(state.watermarks).toEqual(watermarksAt(1));
    expect(await sql(`SELECT id FROM ${table}`)).toEqual([{ id: 1 }]);
    expect(sink.state).toBe('idle');
  });

  it('refuses a table that does not fit before writing anything (SCHEMA_MISMATCH naming table, column, fix)', async () => {
    const table = await eventsTable(', required text NOT NULL, flag boolean');
    const sink = sinkFor({ table, columns: { ...EVENT_COLUMNS, missing: 'value.x', flag: 'rowtime' } });
    const error = await expectCode(sink.open({ pipelineId: uniqueName('p') }), 'SCHEMA_MISMATCH');
    expect(error.message).toContain(table);
    expect(error.message).toContain('column missing (from value.x) does not exist');
    expect(error.message).toContain('column required is NOT NULL');
    expect(error.message).toContain('field rowtime cannot be written to column flag of type boolean');
    expect(error.fix).toContain('ALTER TABLE');
    expect(sink.state).toBe('closed');
    expect(await sql(`SELECT * FROM ${table}`)).toEqual([]);
    await expectCode(
      sinkFor({ table: uniqueName('absent'), columns: EVENT_COLUMNS }).open({ pipelineId: 'x' }),
      'NOT_FOUND',
    );
  });

  it('createTable creates the table from the mapping; upsert updates by key', async () => {
    const table = uniqueName('users');
    const identity = { pipelineId: uniqueName('p') };
    const sink = sinkFor({
      table,
      createTable: true,
      mode: 'upsert',
      key: ['id'],
      columns: {
        id: { from: 'value.id', type: 'bigint' },
        name: 'value.name',
        doc: 'value',
        origin: 'provenance',
      },
    });
    await sink.open(identity);
    await sink.begin();
    await sink.write([testRecord({ id: 1, name: 'a' }, 1), testRecord({ id: 2, name: 'b' }, 2)]);
    await sink.write([testRecord({ id: 1, name: 'c' }, 3)]);
    await sink.commit({ watermarks: watermarksAt(3), rowtime: null });
    const rows = await sql<{ id: string; name: string; doc: unknown; origin: Record<string, unknown> }>(
      `SELECT * FROM ${table} ORDER BY id`,
    );
    expect(rows.map((row) => [row.id, row.name])).toEqual([
      ['1', 'c'],
      ['2', 'b'],
    ]);
    expect(rows[0]!.doc).toEqual({ id: 1, name: 'c' });
    expect(rows[0]!.origin).toEqual({
      pipeline: identity.pipelineId,
      'file.path': '/data/in.jsonl',
      'file.line': 3,
      'file.position': 30,
    });
  });

  it('COPY mode writes awkward text exactly', async () => {
    const table = uniqueName('copied');
    await sql(`CREATE TABLE ${table} (id int, body text, note text, raw bytea)`);
    const sink = sinkFor({
      table,
      mode: 'copy',
      columns: { id: 'value.id', body: 'value.body', note: 'headers.note', raw: 'key' },
    });
    await sink.open({ pipelineId: uniqueName('p') });
    await sink.begin();
    const bodies = ['tab\there', 'line\nbreak\r\n', 'back\\slash \\N', 'ünïcødé ✓', ''];
    await sink.write(
      bodies.map((body, index) =>
        testRecord({ id: index, body }, index, index === 0 ? { headers: { note: 'n' } } : {}),
      ),
    );
    await sink.commit({ watermarks: watermarksAt(5), rowtime: null });
    const rows = await sql<{ body: string; note: string | null; raw: Buffer }>(
      `SELECT * FROM ${table} ORDER BY id`,
    );
    expect(rows.map((row) => row.body)).toEqual(bodies);
    expect(rows.map((row) => row.note)).toEqual(['n', null, null, null, null]);
    expect(rows[1]!.raw.toString()).toBe('k1');
  });

  it('COPY streams across chunks while the transaction is open; abort mid-COPY leaves nothing', async () => {
    const table = await eventsTable();
    const identity = { pipelineId: uniqueName('p') };
    const sink = sinkFor({ table, mode: 'copy', columns: EVENT_COLUMNS });
    await sink.open(identity);
    const many = Array.from({ length: 20_000 }, (_, index) =>
      testRecord({ id: index, name: `n${index % 1000}` }, index + 1),
    );
    await sink.begin();
    await sink.write(many.slice(0, 10_000));
    await sink.abort();
    expect(await sql(`SELECT count(*)::int AS n FROM ${table}`)).toEqual([{ n: 0 }]);
    await sink.begin();
    await sink.write(many.slice(0, 10_000));
    await sink.write([
      { ...testRecord({ id: 'bad' }, 0), route: 'dead-letter', headers: { 'tidemark.error': 'e' } },
    ]);
    await sink.write(many.slice(10_000));
    await sink.commit({ watermarks: watermarksAt(20_000), rowtime: null });
    expect(await sql(`SELECT count(*)::int AS n, count(DISTINCT id)::int AS ids FROM ${table}`)).toEqual([
      { n: 20_000, ids: 20_000 },
    ]);
    expect(await sql(`SELECT error FROM ${table}_dead_letter`)).toEqual([{ error: 'e' }]);
    expect((await sink.readCommitted(identity)).watermarks).toEqual(watermarksAt(20_000));

    // close() with a COPY open cancels it and rolls back, without waiting on the COPY.
    await sink.begin();
    await sink.write(many.slice(0, 10_000));
    await sink.close();
    expect(await sql(`SELECT count(*)::int AS n FROM ${table}`)).toEqual([{ n: 20_000 }]);
  });

  it('checkRecords names what the columns refuse; dead letters land in <table>_dead_letter in the same transaction', async () => {
    const table = await eventsTable();
    const sink = sinkFor({ table, columns: EVENT_COLUMNS });
    // Unopened: only what the configuration tells (a value field of a value that is not JSON).
    expect([...sink.checkRecords([testRecord({ id: 'x' }, 1), testRecord('{no', 2)]).keys()]).toEqual([1]);
    await sink.open({ pipelineId: uniqueName('p') });
    // Nothing dead-lettered yet: no dead-letter table.
    expect(await sql(`SELECT to_regclass($1) AS found`, [`${table}_dead_letter`])).toEqual([{ found: null }]);
    const records = [
      testRecord({ id: 1, name: 'fine' }, 1),
      testRecord({ id: 1.5 }, 2),
      testRecord({ id: 3, name: 'far too long' }, 3),
      testRecord({ name: 'no id' }, 4),
      testRecord('not json', 5),
      testRecord({ id: 2 ** 40 }, 6),
    ];
    const problems = sink.checkRecords(records);
    expect([...problems.keys()]).toEqual([1, 2, 3, 4, 5]);
    expect(problems.get(1)!.message).toContain('is not an integer (column id');
    expect(problems.get(2)!.message).toContain('longer than 8 characters for column name');
    expect(problems.get(3)!.message).toContain('null for NOT NULL column id');
    expect(problems.get(4)!.message).toContain('not valid JSON');
    expect(problems.get(5)!.message).toContain('out of range');
    expect(problems.get(1)!.code).toBe('POISON_RECORD');

    await sink.begin();
    await sink.write([
      records[0]!,
      {
        ...records[1]!,
        route: 'dead-letter',
        headers: { 'tidemark.error': problems.get(1)!.message, 'tidemark.source': 'in' },
      },
    ]);
    await sink.commit({ watermarks: watermarksAt(2), rowtime: null });
    expect(await sql(`SELECT id FROM ${table}`)).toEqual([{ id: 1 }]);
    const dead = await sql<{
      error: string;
      source: string;
      value: Buffer;
      provenance: Record<string, unknown>;
    }>(`SELECT * FROM ${table}_dead_letter`);
    expect(dead.length).toBe(1);
    expect(dead[0]!.error).toContain('is not an integer');
    expect(dead[0]!.source).toBe('in');
    expect(JSON.parse(dead[0]!.value.toString())).toEqual({ id: 1.5 });
    expect(dead[0]!.provenance['file.line']).toBe(2);

    // Without the poison stage, write itself refuses the record and the transaction fails.
    await sink.begin();
    await expectCode(sink.write([records[2]!]), 'POISON_RECORD');
    expect(sink.state).toBe('failed');
    await sink.abort();
    expect(sink.state).toBe('idle');
  });

  it('a row only the database refuses (a CHECK) fails the transaction as POISON_RECORD; nothing commits', async () => {
    const table = await eventsTable(', CHECK (id > 0)');
    const identity = { pipelineId: uniqueName('p') };
    const sink = sinkFor({ table, columns: EVENT_COLUMNS, insertBatchRows: 1 });
    await sink.open(identity);
    await sink.begin();
    const error = await expectCode(
      (async () => {
        await sink.write([testRecord({ id: 1 }, 1), testRecord({ id: -1 }, 2)]);
        await sink.commit({ watermarks: watermarksAt(2), rowtime: null });
      })(),
      'POISON_RECORD',
    );
    expect(error.retriable).toBe(false);
    expect(error.fix).toContain('constraint');
    await sink.abort();
    expect(await sql(`SELECT * FROM ${table}`)).toEqual([]);
    expect((await sink.readCommitted(identity)).watermarks).toEqual({});
  });

  it('hands the batch to a function as a JSON array, in the watermark transaction', async () => {
    const target = uniqueName('enriched');
    const procedure = uniqueName('enrich');
    await sql(`CREATE TABLE ${target} (ip inet, country text, line bigint)`);
    await sql(
      `CREATE FUNCTION ${procedure}(batch jsonb) RETURNS void LANGUAGE plpgsql AS $$
       BEGIN
         INSERT INTO ${target} SELECT b.ip::inet, CASE WHEN b.ip LIKE '10.%' THEN 'private' ELSE 'public' END, b.line
         FROM jsonb_to_recordset(batch) AS b(ip text, line bigint);
       END $$`,
    );
    const identity = { pipelineId: uniqueName('p') };
    const sink = sinkFor({ procedure, columns: { ip: 'value.ip', line: 'provenance.file.line' } });
    await sink.open(identity);
    await sink.begin();
    await sink.write([testRecord({ ip: '10.0.0.1' }, 1), testRecord({ ip: '8.8.8.8' }, 2)]);
    await sink.commit({ watermarks: watermarksAt(2), rowtime: null });
    await sink.begin();
    await sink.write([testRecord({ ip: '1.1.1.1' }, 3)]);
    await sink.abort();
    expect(await sql(`SELECT ip::text, country, line FROM ${target} ORDER BY line`)).toEqual([
      { ip: '10.0.0.1/32', country: 'private', line: '1' },
      { ip: '8.8.8.8/32', country: 'public', line: '2' },
    ]);
    expect((await sink.readCommitted(identity)).watermarks).toEqual(watermarksAt(2));
    await expectCode(
      sinkFor({ procedure: uniqueName('absent'), columns: { ip: 'value.ip' } }).open(identity),
      'NOT_FOUND',
    );
  });

  it('names the sink connection by application_name and refuses calls out of order', async () => {
    const table = await eventsTable();
    const identity = { pipelineId: uniqueName('p') };
    const sink = sinkFor({ table, columns: EVENT_COLUMNS });
    await expectCode(sink.begin(), 'ILLEGAL_STATE');
    await sink.open(identity);
    const [row] = await sql<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE application_name = $1`, [
      `tidemark:${identity.pipelineId}`,
    ]);
    expect(row!.pid).toBe(sink.backendPid);
    await expectCode(sink.write([]), 'ILLEGAL_STATE');
    await expectCode(sink.commit({ watermarks: {}, rowtime: null }), 'ILLEGAL_STATE');
    await expectCode(sink.open(identity), 'ILLEGAL_STATE');
  });
});
