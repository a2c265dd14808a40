import { TidemarkError } from '@tidemark/sdk';
import { NETWORK_ERROR_CODES } from '../relation.js';

/**
 * Maps a `pg` error to a TidemarkError with a fix. SQLSTATE classes: 28 (credentials) →
 * AUTH_FAILED; 42501 (privilege) → AUTH_FAILED; 3D000 (database), 42P01 (table) → NOT_FOUND;
 * 42703 (column) → SCHEMA_MISMATCH; 08 and 57P (connection lost, server shutting down, backend
 * terminated) and socket errors → CONNECTION_FAILED (retriable); 57014 (statement timeout) →
 * TIMEOUT. Messages carry the server's text, never the connection string.
 */
export function mapPostgresError(error: unknown, action: string): TidemarkError {
  if (TidemarkError.isInstance(error)) return error;
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  const text = `postgres: ${action}: ${message}`;
  const details = typeof code === 'string' ? { sqlstate: code } : undefined;
  const options = (fix: string, retriable?: boolean) => ({
    cause: error,
    fix,
    ...(details ? { details } : {}),
    ...(retriable === undefined ? {} : { retriable }),
  });
  if (typeof code === 'string') {
    if (code.startsWith('28'))
      return new TidemarkError(
        'AUTH_FAILED',
        text,
        options('Check the user and password in connectionString and the server’s pg_hba.conf.'),
      );
    if (code === '42501')
      return new TidemarkError(
        'AUTH_FAILED',
        text,
        options('GRANT SELECT on the table (and USAGE on its schema) to the user of connectionString.'),
      );
    if (code === '3D000')
      return new TidemarkError(
        'NOT_FOUND',
        text,
        options('Create the database or fix its name in connectionString.'),
      );
    if (code === '42P01' || code === '3F000')
      return new TidemarkError(
        'NOT_FOUND',
        text,
        options('Check `table` (schema.table) or the FROM clause of `query`; the relation does not exist.'),
      );
    if (code === '42703')
      return new TidemarkError(
        'SCHEMA_MISMATCH',
        text,
        options('Fix the column names in `query`, or run `tidemark rdbms prepare <file>` to add queryCol.'),
      );
    if (code === '57014')
      return new TidemarkError(
        'TIMEOUT',
        text,
        options('Raise queryTimeoutMs, lower pageSize, or index (queryCol, tieBreakCol).', true),
      );
    if (code.startsWith('08') || code.startsWith('57P') || NETWORK_ERROR_CODES.has(code))
      return new TidemarkError(
        'CONNECTION_FAILED',
        text,
        options(
          'Check that PostgreSQL runs and is reachable at the host and port of connectionString.',
          true,
        ),
      );
    if (code.startsWith('42') || code.startsWith('22'))
      return new TidemarkError(
        'CONFIG_INVALID',
        text,
        options('Fix `query`, `table` or the column options; the server refused the SQL.'),
      );
  }
  if (/ssl|tls|certificate/i.test(message))
    return new TidemarkError(
      'TLS_FAILED',
      text,
      options('Check sslmode and certificates in connectionString, or whether the server accepts TLS.'),
    );
  if (/terminated|timeout|closed|not queryable|ECONN/i.test(message))
    return new TidemarkError(
      'CONNECTION_FAILED',
      text,
      options('Check that PostgreSQL runs and is reachable; the source reconnects by itself.', true),
    );
  return new TidemarkError(
    'INTERNAL',
    text,
    options('See the cause; the source reconnects and retries.', true),
  );
}
