/**
 * `tidemark validate --connect` for the PostgreSQL sink (the optional `check` hook): connects
 * and checks the target as `open` would — the table against the mapping, the upsert key, or the
 * function — without creating or writing anything. Throws the TidemarkError `open` would.
 */
import type { ConnectorContext } from '@tidemark/sdk';
import type { PostgresSinkConfig } from './config.js';
import { connect, release, type SinkConnection } from './connection.js';
import { translatePgError } from './errors.js';
import { compileMapping } from './mapping.js';
import { readColumns, verifyMapping, verifyProcedure, verifyUpsertKey } from './table-schema.js';
import { tableMissing } from './target.js';

export async function checkPostgresSink(
  config: PostgresSinkConfig,
  _context: ConnectorContext,
): Promise<void> {
  let connection: SinkConnection | null = null;
  try {
    connection = await connect(config, 'tidemark-cli');
    const client = connection.client;
    if (config.procedure !== undefined) {
      await verifyProcedure(client, config.schema, config.procedure);
      return;
    }
    const table = config.table!;
    const columns = await readColumns(client, config.schema, table);
    if (!columns) {
      if (config.createTable) return;
      throw tableMissing(config);
    }
    verifyMapping(`${config.schema}.${table}`, compileMapping(config.columns), columns);
    if (config.mode === 'upsert') await verifyUpsertKey(client, config.schema, table, config.key);
  } catch (error) {
    throw translatePgError(error, 'check', config);
  } finally {
    await release(connection);
  }
}
