import { silentLogger } from '@tidemark/sdk';
import { describe, expect, it } from 'vitest';
import { parsePostgresSinkConfig } from './config.js';
import postgresSink from './index.js';
import { expectCode, server, sql, uniqueName } from './int-test-helpers.js';
import { checkPostgresSink } from './preflight.js';
import { postgresRunLease } from './run-lease.js';

const context = { name: 'sink', logger: silentLogger, signal: new AbortController().signal };

describe('connector hooks: preflight check and run lease', () => {
  it('are on the connector definition', () => {
    const hooks = postgresSink as unknown as Record<string, unknown>;
    expect(hooks.check).toBe(checkPostgresSink);
    expect(hooks.lease).toBe(postgresRunLease);
  });

  it('check reports what open would, creating nothing', async () => {
    const table = uniqueName('checked');
    const config = (extra: Record<string, unknown>) =>
      parsePostgresSinkConfig({ ...server, table, columns: { id: 'value.id', at: 'rowtime' }, ...extra });
    await expectCode(checkPostgresSink(config({}), context), 'NOT_FOUND');
    await checkPostgresSink(config({ createTable: true }), context);
    expect(await sql(`SELECT to_regclass($1) AS found`, [table])).toEqual([{ found: null }]);
    await sql(`CREATE TABLE ${table} (id int, at boolean)`);
    const mismatch = await expectCode(checkPostgresSink(config({}), context), 'SCHEMA_MISMATCH');
    expect(mismatch.message).toContain('column at of type boolean');
    await expectCode(
      checkPostgresSink(config({ table: undefined, procedure: uniqueName('nope') }), context),
      'NOT_FOUND',
    );
    await expectCode(checkPostgresSink(config({ port: 1 }), context), 'CONNECTION_FAILED');
  });

  it('the run lease is held by one process at a time, and reset sees it', async () => {
    const pipeline = uniqueName('leased');
    const config = parsePostgresSinkConfig({ ...server, table: 'unused' });
    await postgresRunLease.assertFree(config, pipeline, context);
    const lease = postgresRunLease.create(config, pipeline, context);
    expect(lease.held).toBe(false);
    expect(await lease.acquire(1_000)).toBe(true);
    expect(lease.held).toBe(true);
    const busy = await expectCode(postgresRunLease.assertFree(config, pipeline, context), 'ILLEGAL_STATE');
    expect(busy.message).toContain(`pid ${process.pid}`);
    const second = postgresRunLease.create(config, pipeline, context);
    expect(await second.acquire(300)).toBe(false);
    await second.release();
    await postgresRunLease.assertFree(config, uniqueName('other'), context);
    await lease.release();
    await lease.release();
    expect(lease.held).toBe(false);
    // A release while acquire still waits stops the wait.
    const blocker = postgresRunLease.create(config, pipeline, context);
    expect(await blocker.acquire(1_000)).toBe(true);
    const waiting = postgresRunLease.create(config, pipeline, context);
    const acquiring = waiting.acquire(10_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await waiting.release();
    expect(await acquiring).toBe(false);
    await blocker.release();
    await postgresRunLease.assertFree(config, pipeline, context);
  });
});
