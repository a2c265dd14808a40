/**
 * The target table's shape, read from information_schema at open, checked against the column
 * mapping before anything is written; the dead-letter table; `createTable`.
 */
import { TidemarkError } from '@tidemark/sdk';
import type pg from 'pg';
import type { ColumnInfo } from './column-types.js';
import { type ColumnMapping, inferredType, typeMismatch } from './mapping.js';
import { qualified, quoteIdentifier } from './sql.js';
import { ignoreDuplicate } from './watermark-table.js';

/** The columns of `schema.table` by name, in table order; null when the table does not exist. */
export async function readColumns(
  client: pg.Client,
  schema: string,
  table: string,
): Promise<Map<string, ColumnInfo> | null> {
  const result = await client.query(
    `SELECT column_name, udt_name, data_type, character_maximum_length, is_nullable,
            column_default IS NOT NULL OR is_identity = 'YES' OR is_generated <> 'NEVER' AS has_default,
            is_generated <> 'NEVER' AS generated
     FROM information_schema.columns
     WHERE table_schema = $1 AND table_name = $2
     ORDER BY ordinal_position`,
    [schema, table],
  );
  if (result.rows.length === 0) return null;
  const columns = new Map<string, ColumnInfo & { generated: boolean }>();
  for (const row of result.rows as Record<string, unknown>[]) {
    columns.set(String(row.column_name), {
      name: String(row.column_name),
      type: String(row.udt_name),
      dataType: String(row.data_type),
      maxLength: row.character_maximum_length === null ? null : Number(row.character_maximum_length),
      nullable: row.is_nullable === 'YES',
      hasDefault: row.has_default === true,
      generated: row.generated === true,
    });
  }
  return columns;
}

/**
 * Every way `mappings` cannot be written to the table: a mapped column missing or generated, a
 * field that can never fit its column's type, a NOT NULL column without a default that nothing
 * fills. Throws one SCHEMA_MISMATCH naming table, columns and the fix; returns when all fits.
 */
export function verifyMapping(
  label: string,
  mappings: readonly ColumnMapping[],
  columns: ReadonlyMap<string, ColumnInfo & { generated?: boolean }>,
): void {
  const problems: string[] = [];
  const fixes: string[] = [];
  const mapped = new Set(mappings.map((mapping) => mapping.column));
  for (const mapping of mappings) {
    const column = columns.get(mapping.column);
    if (!column) {
      problems.push(`column ${mapping.column} (from ${mapping.field}) does not exist`);
      fixes.push(
        `ALTER TABLE ${label} ADD COLUMN ${quoteIdentifier(mapping.column)} ${inferredType(mapping)}, or remove ${mapping.column} from columns`,
      );
      continue;
    }
    if (column.generated) {
      problems.push(`column ${mapping.column} is generated and cannot be written`);
      fixes.push(`remove ${mapping.column} from columns`);
      continue;
    }
    const mismatch = typeMismatch(mapping, column);
    if (mismatch) {
      problems.push(mismatch);
      fixes.push(
        `map another field to ${mapping.column}, or change its type (e.g. to ${inferredType(mapping)})`,
      );
    }
  }
  for (const column of columns.values()) {
    if (mapped.has(column.name) || column.nullable || column.hasDefault) continue;
    problems.push(`column ${column.name} is NOT NULL without a default and no field is mapped to it`);
    fixes.push(`map a field to ${column.name} in columns, give it a DEFAULT, or drop its NOT NULL`);
  }
  if (problems.length === 0) return;
  throw new TidemarkError(
    'SCHEMA_MISMATCH',
    `postgres sink: table ${label} does not fit the sink: ${problems.join('; ')}`,
    {
      fix: `${fixes.join('; ')}. Nothing was written.`,
      details: { table: label, problems },
    },
  );
}

/** Throws SCHEMA_MISMATCH unless `schema.table` has a unique index (or primary key) on exactly `key`. */
export async function verifyUpsertKey(
  client: pg.Client,
  schema: string,
  table: string,
  key: readonly string[],
): Promise<void> {
  const result = await client.query(
    `SELECT array_agg(a.attname::text ORDER BY a.attname) AS columns
     FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
     WHERE i.indrelid = $1::regclass AND i.indisunique AND i.indpred IS NULL
     GROUP BY i.indexrelid`,
    [qualified(schema, table)],
  );
  const wanted = [...key].sort().join(',');
  if ((result.rows as { columns: string[] }[]).some((row) => row.columns.join(',') === wanted)) return;
  const label = `${schema}.${table}`;
  throw new TidemarkError(
    'SCHEMA_MISMATCH',
    `postgres sink: table ${label} has no unique index on the upsert key (${key.join(', ')})`,
    {
      fix: `CREATE UNIQUE INDEX ON ${label} (${key.map(quoteIdentifier).join(', ')}), or set key: to the columns of an existing one. Nothing was written.`,
      details: { table: label, key },
    },
  );
}

/** `createTable: true`: creates the table from the mapping (the upsert key as primary key). */
export async function createTable(
  client: pg.Client,
  schema: string,
  table: string,
  mappings: readonly ColumnMapping[],
  key: readonly string[],
): Promise<void> {
  const definitions = mappings.map(
    (mapping) => `${quoteIdentifier(mapping.column)} ${inferredType(mapping)}`,
  );
  if (key.length > 0) definitions.push(`PRIMARY KEY (${key.map(quoteIdentifier).join(', ')})`);
  await ignoreDuplicate(
    client.query(`CREATE TABLE IF NOT EXISTS ${qualified(schema, table)} (${definitions.join(', ')})`),
  );
}

/** Columns of the dead-letter table, in insert order. */
export const DEAD_LETTER_COLUMNS = [
  'pipeline',
  'source',
  'error',
  'rowtime',
  'provenance',
  'headers',
  'key',
  'value',
] as const;

/** Creates the dead-letter table when missing. */
export async function createDeadLetterTable(client: pg.Client, schema: string, table: string): Promise<void> {
  await ignoreDuplicate(
    client.query(
      `CREATE TABLE IF NOT EXISTS ${qualified(schema, table)} (
        pipeline text NOT NULL,
        source text,
        error text,
        rowtime timestamptz,
        provenance jsonb,
        headers jsonb,
        key bytea,
        value bytea,
        dead_lettered_at timestamptz NOT NULL DEFAULT now()
      )`,
    ),
  );
}

/** Throws NOT_FOUND unless `schema.procedure(jsonb)` exists. */
export async function verifyProcedure(client: pg.Client, schema: string, procedure: string): Promise<void> {
  const result = await client.query(
    `SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = $1 AND p.proname = $2 AND p.pronargs = 1 AND p.proargtypes[0] = 'jsonb'::regtype`,
    [schema, procedure],
  );
  if (result.rows.length > 0) return;
  throw new TidemarkError(
    'NOT_FOUND',
    `postgres sink: function ${schema}.${procedure}(jsonb) does not exist`,
    {
      fix: `CREATE FUNCTION ${schema}.${procedure}(batch jsonb) RETURNS void … (see docs/connectors/postgres-sink.md), or correct procedure:.`,
      details: { schema, procedure },
    },
  );
}
