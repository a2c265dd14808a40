/**
 * What `open` sets up for the target: the table (read, created with `createTable`, checked
 * against the mapping) or the function, the writers for it and for dead letters, and the
 * encoder bound to the columns read.
 */
import { TidemarkError } from '@tidemark/sdk';
import type pg from 'pg';
import type { PostgresSinkConfig } from './config.js';
import { type BoundColumn, bindColumns, type ColumnMapping, FieldReader } from './mapping.js';
import { RecordEncoder } from './record-encoder.js';
import { RowWriter } from './row-writer.js';
import { qualified } from './sql.js';
import {
  createTable,
  DEAD_LETTER_COLUMNS,
  readColumns,
  verifyMapping,
  verifyProcedure,
  verifyUpsertKey,
} from './table-schema.js';

export interface PreparedTarget {
  readonly main: RowWriter;
  readonly deadLetters: RowWriter;
  readonly encoder: RecordEncoder;
  /** Whether the dead-letter table exists already (else the first dead letter creates it). */
  readonly deadLetterTableExists: boolean;
}

/** NOT_FOUND for a missing target table. */
export function tableMissing(config: PostgresSinkConfig): TidemarkError {
  return new TidemarkError(
    'NOT_FOUND',
    `postgres sink: table ${config.schema}.${config.table} does not exist`,
    {
      fix: 'Create the table (see docs/connectors/postgres-sink.md), or set createTable: true to create it from columns.',
      details: { schema: config.schema, table: config.table },
    },
  );
}

/** Checks (and with `createTable` creates) the target; throws SCHEMA_MISMATCH / NOT_FOUND before anything is written. */
export async function prepareTarget(
  client: pg.Client,
  config: PostgresSinkConfig,
  mappings: readonly ColumnMapping[],
  deadLetterTable: string,
  pipeline: string,
): Promise<PreparedTarget> {
  let bound: BoundColumn[] = [];
  let main: RowWriter;
  if (config.table !== undefined) {
    let columns = await readColumns(client, config.schema, config.table);
    if (!columns && config.createTable) {
      await createTable(
        client,
        config.schema,
        config.table,
        mappings,
        config.mode === 'upsert' ? config.key : [],
      );
      columns = await readColumns(client, config.schema, config.table);
    }
    if (!columns) throw tableMissing(config);
    verifyMapping(`${config.schema}.${config.table}`, mappings, columns);
    if (config.mode === 'upsert') await verifyUpsertKey(client, config.schema, config.table, config.key);
    bound = bindColumns(mappings, columns);
    main = new RowWriter(
      {
        kind: 'table',
        table: qualified(config.schema, config.table),
        columns: mappings.map((mapping) => mapping.column),
        mode: config.mode,
        key: config.key,
      },
      { insertBatchRows: config.insertBatchRows, statementName: 'tidemark_main' },
    );
  } else {
    await verifyProcedure(client, config.schema, config.procedure!);
    main = new RowWriter(
      { kind: 'procedure', procedure: qualified(config.schema, config.procedure!) },
      { insertBatchRows: config.insertBatchRows, statementName: 'tidemark_procedure' },
    );
  }
  const deadLetters = new RowWriter(
    {
      kind: 'table',
      table: qualified(config.schema, deadLetterTable),
      columns: DEAD_LETTER_COLUMNS,
      mode: 'append',
      key: [],
    },
    // Dead letters wait for commit: the main writer may hold a COPY open on the connection.
    { insertBatchRows: config.insertBatchRows, statementName: 'tidemark_dead_letter', holdUntilFlush: true },
  );
  const found = await client.query('SELECT to_regclass($1) IS NOT NULL AS found', [
    qualified(config.schema, deadLetterTable),
  ]);
  const encoder = new RecordEncoder(
    new FieldReader({ pipeline }),
    bound,
    config.table === undefined ? mappings : null,
    pipeline,
  );
  return {
    main,
    deadLetters,
    encoder,
    deadLetterTableExists: (found.rows[0] as { found: boolean }).found,
  };
}
