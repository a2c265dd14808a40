import type { ResolvedRdbmsConfig } from '../config.js';
import { quoteIdentifier, quoteQualified } from '../json-text.js';
import { tableToPrepare } from '../relation.js';

/** A name fragment safe inside an identifier: letters, digits and underscores, lowercase. */
function namePart(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9_]+/g, '_');
}

/**
 * The SQL that makes a table readable with `horizon: in-flight` on PostgreSQL ≥ 14:
 *
 * 1. an `xid8` column (queryCol) defaulting to `pg_current_xact_id()` — the id of the
 *    transaction that wrote the row (existing rows get the id of this ALTER);
 * 2. a trigger that sets it again on every INSERT and UPDATE, so an application cannot write
 *    another value and an update gives the row its new transaction's id;
 * 3. an index on (queryCol, tieBreakCol) for the keyset reads.
 *
 * Every statement is idempotent. The source then reads `queryCol < pg_snapshot_xmin(pg_current_snapshot())`:
 * every transaction with a smaller id has ended, so no row can appear below that horizon later.
 */
export function preparePostgresStatements(config: ResolvedRdbmsConfig): string[] {
  const tableName = tableToPrepare(config);
  const parts = tableName.split('.');
  const lastPart = parts.at(-1)!;
  const schemaPrefix = parts.length > 1 ? `${quoteQualified(parts.slice(0, -1).join('.'), '"')}.` : '';
  const table = quoteQualified(tableName, '"');
  const column = quoteIdentifier(config.queryCol, '"');
  const base = `${namePart(lastPart)}_${namePart(config.queryCol)}`.slice(0, 50);
  const functionName = `${schemaPrefix}${quoteIdentifier(`tidemark_stamp_${base}`, '"')}`;
  return [
    `ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS ${column} xid8 NOT NULL DEFAULT pg_current_xact_id()`,
    `CREATE OR REPLACE FUNCTION ${functionName}() RETURNS trigger LANGUAGE plpgsql AS $tidemark$ BEGIN NEW.${column} := pg_current_xact_id(); RETURN NEW; END $tidemark$`,
    `CREATE OR REPLACE TRIGGER ${quoteIdentifier(`tidemark_stamp_${base}`, '"')} BEFORE INSERT OR UPDATE ON ${table} FOR EACH ROW EXECUTE FUNCTION ${functionName}()`,
    `CREATE INDEX IF NOT EXISTS ${quoteIdentifier(`${base}_tidemark_idx`, '"')} ON ${table} (${column}, ${quoteIdentifier(config.tieBreakCol, '"')})`,
  ];
}
