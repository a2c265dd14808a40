/**
 * PostgreSQL client errors → TidemarkError with a fix. Messages never carry the password.
 *
 * Server errors carry a SQLSTATE `code`; errors without one come from the socket (refused,
 * reset, closed) or from the client library, and mean the connection is gone.
 */
import { TidemarkError } from '@tidemark/sdk';

interface PgErrorFields {
  code?: string;
  message?: string;
  constraint?: string;
  table?: string;
  column?: string;
  schema?: string;
  routine?: string;
}

const SQLSTATE = /^[0-9A-Z]{5}$/;

/** Where the sink was connecting, for messages (never the password). */
export interface ErrorContext {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
}

/** Translates anything a `pg` call threw during `operation` into a TidemarkError. */
export function translatePgError(error: unknown, operation: string, where: ErrorContext): TidemarkError {
  if (TidemarkError.isInstance(error)) return error;
  const fields = (error ?? {}) as PgErrorFields;
  const raw = fields.code ?? '';
  const code = SQLSTATE.test(raw) ? raw : '';
  const message = `postgres sink: ${operation} failed: ${fields.message ?? String(error)}`;
  const server = `${where.host}:${where.port}/${where.database}`;
  const details = { operation, code: raw || undefined, server };
  const make = (
    tidemarkCode: ConstructorParameters<typeof TidemarkError>[0],
    fix: string,
    retriable?: boolean,
  ) =>
    new TidemarkError(tidemarkCode, message, {
      cause: error,
      fix,
      details,
      ...(retriable === undefined ? {} : { retriable }),
    });

  if (code === '28P01' || code === '28000') {
    return make(
      'AUTH_FAILED',
      `Check user and password of role '${where.user}' (and pg_hba.conf) for ${server}.`,
    );
  }
  if (code === '42501') {
    return make(
      'AUTH_FAILED',
      `Grant role '${where.user}' the privileges the sink needs on schema, tables and function.`,
    );
  }
  if (code === '3D000') return make('NOT_FOUND', `Create database '${where.database}' or set database:.`);
  if (code === '42P01') return make('NOT_FOUND', 'Create the table, or set createTable: true.');
  if (code === '42883')
    return make('NOT_FOUND', 'Create the function `name(batch jsonb)` the procedure option names.');
  if (code === '42703' || code === '42804' || code === '42P10') {
    return make(
      'SCHEMA_MISMATCH',
      'Make the table match the sink columns (for upsert: a unique index on exactly the key columns).',
    );
  }
  if (code === '53100') return make('STORAGE_FULL', `Free disk space on the database server ${server}.`);
  if (code === '55P03' || code === '57014') {
    return make(
      'TIMEOUT',
      'Usually another instance of the pipeline holds the watermark row: the pipeline retries.',
    );
  }
  if (code === '40001' || code === '40P01')
    return make('INTERNAL', 'A transient conflict: the pipeline retries.', true);
  if (code.startsWith('23') || code.startsWith('22')) {
    const what = fields.constraint
      ? `constraint ${fields.constraint}`
      : fields.column
        ? `column ${fields.column}`
        : 'the table';
    return make(
      'POISON_RECORD',
      `A row of this transaction breaks ${what}${fields.table ? ` of table ${fields.table}` : ''}; nothing of it was committed. ` +
        'Relax the constraint or filter such records in a transform, then restart: the pipeline resumes at the same place.',
      false,
    );
  }
  if (code.startsWith('08') || code.startsWith('57P') || code === '53300' || code === '') {
    const text = `${fields.message ?? ''} ${raw}`;
    if (/ssl|tls|certificate|CERT_|self.signed/i.test(text)) {
      return make(
        'TLS_FAILED',
        `Check the ssl option against what ${server} offers (certificate authority, host name).`,
      );
    }
    return make(
      'CONNECTION_FAILED',
      `Start PostgreSQL or set host/port (now ${where.host}:${where.port}).`,
      true,
    );
  }
  return make('INTERNAL', 'See the cause; the pipeline retries from the committed watermark.', true);
}
