import { TidemarkError } from '@tidemark/sdk';
import type { ResolvedRdbmsConfig } from './config.js';

/** Socket-level error codes: the server is unreachable or the connection dropped (retriable). */
export const NETWORK_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
]);

/**
 * Checks the columns a table or query returns: distinct names (CONFIG_INVALID), and queryCol
 * and tieBreakCol present (SCHEMA_MISMATCH, naming `tidemark rdbms prepare` for a missing
 * queryCol of a table).
 */
export function checkColumns(dialect: string, config: ResolvedRdbmsConfig, names: readonly string[]): void {
  const duplicate = names.find((name, index) => names.indexOf(name) !== index);
  if (duplicate !== undefined) {
    throw new TidemarkError('CONFIG_INVALID', `${dialect}: the query returns column ${duplicate} twice`, {
      fix: 'Give every column of `query` a distinct name (AS …).',
    });
  }
  const where = config.table !== undefined ? `table ${config.table}` : 'the query result';
  for (const [option, column] of [
    ['queryCol', config.queryCol],
    ['tieBreakCol', config.tieBreakCol],
  ] as const) {
    if (names.includes(column)) continue;
    throw new TidemarkError('SCHEMA_MISMATCH', `${dialect}: ${where} has no column ${column} (${option})`, {
      fix:
        option === 'queryCol' && config.table !== undefined
          ? 'Run `tidemark rdbms prepare <file>` to add it (see docs/connectors/rdbms.md), or set queryCol to an existing column.'
          : `Set ${option} to a column of ${where} (columns: ${names.join(', ')}).`,
      details: { columns: names },
    });
  }
}

/** SCHEMA_MISMATCH for a queryCol that cannot carry the in-flight horizon. */
export function horizonColumnMismatch(dialect: string, message: string): TidemarkError {
  return new TidemarkError('SCHEMA_MISMATCH', `${dialect}: ${message}`, {
    fix: 'Run `tidemark rdbms prepare <file>` (adds the column the horizon needs), or set horizon: none if a single writer commits rows in queryCol order.',
  });
}

/** CONFIG_INVALID for `watermarks reset --to <time>` when queryCol is not a time. */
export function noTimePosition(dialect: string, queryCol: string): TidemarkError {
  return new TidemarkError(
    'CONFIG_INVALID',
    `${dialect}: queryCol ${queryCol} is not a timestamp, so a time has no position`,
    {
      fix: 'Reset to earliest, latest, or a JSON watermark {"<source>":{"<unit>":{"q":"<queryCol>","k":"<tieBreak>"}}}.',
    },
  );
}

/** The table `prepare` alters; CONFIG_INVALID for a query source. */
export function tableToPrepare(config: ResolvedRdbmsConfig): string {
  if (config.table !== undefined) return config.table;
  throw new TidemarkError('CONFIG_INVALID', 'rdbms prepare needs `table` (it alters a table, not a query)', {
    fix: 'Set `table` to the table the query reads, or run the SQL of docs/connectors/rdbms.md by hand.',
  });
}

/** Runs `statements` one by one on a fresh session; `run` maps its own errors. */
export async function runStatements<Session>(
  open: () => Promise<Session>,
  run: (session: Session, statement: string) => Promise<unknown>,
  release: (session: Session) => Promise<void>,
  statements: readonly string[],
): Promise<void> {
  const session = await open();
  try {
    for (const statement of statements) await run(session, statement);
  } finally {
    await release(session);
  }
}
