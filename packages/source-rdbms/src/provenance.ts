import type { ProvenanceColumn, TidemarkRecord } from '@tidemark/sdk';
import type { DialectRow } from './dialect.js';
import { encodePosition } from './position.js';

/** The provenance columns of every record of an rdbms source. */
export const RDBMS_PROVENANCE: readonly ProvenanceColumn[] = Object.freeze([
  {
    name: 'rdbms.table',
    type: 'string',
    description: 'The table read (for a custom query: the source name).',
  },
  {
    name: 'rdbms.query_col',
    type: 'string',
    description: 'The row’s queryCol value as text (a transaction id on postgres, a UTC timestamp on mysql).',
  },
  {
    name: 'rdbms.key',
    type: 'string',
    description: 'The row’s tieBreakCol value as text; also the record key.',
  },
]);

/**
 * The record of one row: key = tieBreakCol text, value = the row as JSON, position = the
 * (queryCol, tieBreakCol) pair, so resuming after it reads the next row in keyset order.
 */
export function rowRecord(row: DialectRow, table: string, unit: string, rowtime: number): TidemarkRecord {
  return {
    key: Buffer.from(row.tieBreakValue, 'utf8'),
    value: Buffer.from(row.json, 'utf8'),
    headers: {},
    rowtime,
    provenance: {
      'rdbms.table': table,
      'rdbms.query_col': row.queryValue,
      'rdbms.key': row.tieBreakValue,
    },
    position: {
      unit,
      next: encodePosition({ queryValue: row.queryValue, tieBreak: row.tieBreakValue }),
    },
  };
}
