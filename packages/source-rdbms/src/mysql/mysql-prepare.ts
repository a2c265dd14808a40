import type { ResolvedRdbmsConfig } from '../config.js';
import { quoteIdentifier, quoteQualified } from '../json-text.js';
import { tableToPrepare } from '../relation.js';

/**
 * The SQL that makes a table readable with `horizon: in-flight` on MySQL / MariaDB: a
 * `TIMESTAMP(6)` column (queryCol) the server sets to the writing statement's start time on
 * every insert and update (`DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)`),
 * and an index on (queryCol, tieBreakCol). Uses MariaDB's IF NOT EXISTS, so it is idempotent
 * there; on MySQL run it once (docs/connectors/rdbms.md). Applications must not write queryCol.
 */
export function prepareMysqlStatements(config: ResolvedRdbmsConfig): string[] {
  const tableName = tableToPrepare(config);
  const table = quoteQualified(tableName, '`');
  const column = quoteIdentifier(config.queryCol, '`');
  const lastPart = tableName.split('.').at(-1)!;
  const index = quoteIdentifier(`${lastPart}_${config.queryCol}_tidemark_idx`.slice(0, 64), '`');
  return [
    `ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS ${column} TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)`,
    `CREATE INDEX IF NOT EXISTS ${index} ON ${table} (${column}, ${quoteIdentifier(config.tieBreakCol, '`')})`,
  ];
}
