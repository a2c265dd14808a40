import { TidemarkError } from '@tidemark/sdk';
import { NETWORK_ERROR_CODES } from '../relation.js';

const CONNECTION_CODES = new Set([
  ...NETWORK_ERROR_CODES,
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_SERVER_SHUTDOWN',
  'ER_CON_COUNT_ERROR',
  'ER_CONNECTION_KILLED',
  'ER_QUERY_INTERRUPTED',
  'ER_NET_READ_ERROR',
  'ER_NET_WRITE_INTERRUPTED',
]);

/**
 * Maps a `mysql2` error to a TidemarkError with a fix: ER_ACCESS_DENIED_ERROR, ER_DBACCESS_DENIED_ERROR,
 * ER_TABLEACCESS_DENIED_ERROR → AUTH_FAILED; ER_SPECIFIC_ACCESS_DENIED_ERROR (PROCESS missing) →
 * AUTH_FAILED; ER_BAD_DB_ERROR, ER_NO_SUCH_TABLE → NOT_FOUND; ER_BAD_FIELD_ERROR → SCHEMA_MISMATCH;
 * lost or refused connections → CONNECTION_FAILED (retriable); timeouts → TIMEOUT.
 */
export function mapMysqlError(error: unknown, action: string): TidemarkError {
  if (TidemarkError.isInstance(error)) return error;
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  const text = `mysql: ${action}: ${message}`;
  const make = (kind: TidemarkError['code'], fix: string) =>
    new TidemarkError(kind, text, {
      cause: error,
      fix,
      ...(typeof code === 'string' ? { details: { code } } : {}),
    });
  switch (code) {
    case 'ER_ACCESS_DENIED_ERROR':
    case 'ER_ACCESS_DENIED_NO_PASSWORD_ERROR':
      return make('AUTH_FAILED', 'Check the user and password in connectionString.');
    case 'ER_DBACCESS_DENIED_ERROR':
    case 'ER_TABLEACCESS_DENIED_ERROR':
    case 'ER_COLUMNACCESS_DENIED_ERROR':
      return make('AUTH_FAILED', 'GRANT SELECT on the table to the user of connectionString.');
    case 'ER_SPECIFIC_ACCESS_DENIED_ERROR':
      return make(
        'AUTH_FAILED',
        'GRANT PROCESS ON *.* to the user of connectionString: the in-flight horizon reads information_schema.innodb_trx and processlist.',
      );
    case 'ER_BAD_DB_ERROR':
      return make('NOT_FOUND', 'Create the database or fix its name in connectionString.');
    case 'ER_NO_SUCH_TABLE':
      return make('NOT_FOUND', 'Check `table` or the FROM clause of `query`; the table does not exist.');
    case 'ER_BAD_FIELD_ERROR':
      return make(
        'SCHEMA_MISMATCH',
        'Fix the column names, or run `tidemark rdbms prepare <file>` to add queryCol.',
      );
    case 'ER_PARSE_ERROR':
      return make('CONFIG_INVALID', 'Fix the SQL of `query`; the server could not parse it.');
    case 'ER_STATEMENT_TIMEOUT':
      return new TidemarkError('TIMEOUT', text, {
        cause: error,
        fix: 'Raise queryTimeoutMs, lower pageSize, or index (queryCol, tieBreakCol).',
      });
    default:
      break;
  }
  if (
    (typeof code === 'string' && CONNECTION_CODES.has(code)) ||
    /closed state|connection lost|timeout/i.test(message)
  )
    return make(
      'CONNECTION_FAILED',
      'Check that the server runs and is reachable; the source reconnects by itself.',
    );
  if (typeof code === 'string' && code.includes('SSL'))
    return make('TLS_FAILED', 'Check the ssl settings of connectionString and the server certificate.');
  return new TidemarkError('INTERNAL', text, {
    cause: error,
    fix: 'See the cause; the source reconnects and retries.',
    retriable: true,
  });
}
