import { z } from 'zod';

/** The SQL dialects this package speaks; each lives in its own folder behind {@link Dialect}. */
export const DIALECT_NAMES = ['postgres', 'mysql'] as const;
export type DialectName = (typeof DIALECT_NAMES)[number];

/** The column `tidemark rdbms prepare` adds, per dialect, when `queryCol` is not set. */
export const DEFAULT_QUERY_COLUMN: Readonly<Record<DialectName, string>> = {
  postgres: 'tidemark_txid',
  mysql: 'tidemark_changed_at',
};

const startAfterSchema = z
  .object({
    queryCol: z.string().min(1).describe('Value of queryCol (as text) of the last row to skip.'),
    tieBreak: z
      .union([z.string().min(1), z.number().int()])
      .transform((value) => String(value))
      .describe('Value of tieBreakCol (as text) of the last row to skip.'),
  })
  .strict();

/** Options of the `rdbms` source, as written in YAML under a source of `type: rdbms`. */
export const rdbmsSourceConfigSchema = z
  .object({
    connectionString: z
      .string()
      .min(1)
      .meta({ secret: true })
      .describe(
        'Database URL: postgres://user:password@host:5432/db or mysql://user:password@host:3306/db (mariadb:// too). Never logged.',
      ),
    dialect: z
      .enum(DIALECT_NAMES)
      .optional()
      .describe(
        'SQL dialect: postgres or mysql (MySQL and MariaDB). Default: from the connectionString scheme.',
      ),
    table: z
      .string()
      .min(1)
      .optional()
      .describe('Table to read (schema.table allowed). Exactly one of table and query.'),
    query: z
      .string()
      .min(1)
      .optional()
      .describe(
        'A SELECT whose result is read like a table (it must return queryCol and tieBreakCol). Exactly one of table and query.',
      ),
    queryCol: z
      .string()
      .min(1)
      .optional()
      .describe(
        'Monotonically increasing column rows are read in order of. Default: the column `tidemark rdbms prepare` adds (tidemark_txid on postgres, tidemark_changed_at on mysql).',
      ),
    tieBreakCol: z
      .string()
      .min(1)
      .default('id')
      .describe('Unique column ordering rows that share a queryCol value (usually the primary key).'),
    horizon: z
      .enum(['in-flight', 'none'])
      .default('in-flight')
      .describe(
        'in-flight: read only rows no open transaction can still add to (needs the prepared queryCol; no row committed late is skipped). none: read every committed row at once (only safe for a single writer committing in queryCol order).',
      ),
    horizonLagMs: z
      .number()
      .int()
      .min(200)
      .default(1_000)
      .describe(
        'mysql only: rows younger than this (by the server clock) wait, covering statements that have started but are not yet listed as transactions.',
      ),
    start: z
      .enum(['earliest', 'latest'])
      .default('earliest')
      .describe(
        'Where reading starts when no watermark is committed: earliest (every row) or latest (rows changed from now on).',
      ),
    startAfter: startAfterSchema
      .optional()
      .describe(
        'Explicit start: read rows after this (queryCol, tieBreakCol) pair. Beaten only by a watermark.',
      ),
    pageSize: z
      .number()
      .int()
      .min(1)
      .max(100_000)
      .default(5_000)
      .describe('Rows fetched per query (keyset page); bounds the rows held in memory.'),
    pollIntervalMs: z
      .number()
      .int()
      .min(10)
      .default(500)
      .describe('How long to wait before polling again once every readable row was read.'),
    stopAtEnd: z
      .boolean()
      .default(false)
      .describe('Read the rows below the horizon seen at open, then end (bounded backfill).'),
    applicationName: z
      .string()
      .min(1)
      .max(63)
      .default('tidemark')
      .describe('postgres: application_name of the connection (shown in pg_stat_activity).'),
    connectTimeoutMs: z
      .number()
      .int()
      .min(100)
      .default(10_000)
      .describe('How long connecting may take before CONNECTION_FAILED.'),
    queryTimeoutMs: z
      .number()
      .int()
      .min(100)
      .default(60_000)
      .describe('How long one query may take before it fails (retriable).'),
  })
  .strict()
  .superRefine((config, context) => {
    if ((config.table === undefined) === (config.query === undefined)) {
      context.addIssue({
        code: 'custom',
        path: config.table === undefined ? ['table'] : ['query'],
        message: 'set exactly one of table and query',
      });
    }
    if (config.dialect === undefined && dialectOfUrl(config.connectionString) === undefined) {
      context.addIssue({
        code: 'custom',
        path: ['dialect'],
        message:
          'cannot tell the dialect from the connectionString scheme: use postgres://, mysql:// or mariadb://, or set dialect',
      });
    }
  });

export type RdbmsSourceConfig = z.output<typeof rdbmsSourceConfigSchema>;
export type RdbmsSourceConfigInput = z.input<typeof rdbmsSourceConfigSchema>;

/** The dialect a connection URL names by its scheme, if any. */
export function dialectOfUrl(connectionString: string): DialectName | undefined {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(connectionString)?.[1]?.toLowerCase();
  if (scheme === 'postgres' || scheme === 'postgresql') return 'postgres';
  if (scheme === 'mysql' || scheme === 'mariadb') return 'mysql';
  return undefined;
}

/** The configuration with every dialect-dependent default applied. */
export interface ResolvedRdbmsConfig extends RdbmsSourceConfig {
  readonly dialect: DialectName;
  readonly queryCol: string;
}

export function resolveConfig(config: RdbmsSourceConfig): ResolvedRdbmsConfig {
  const dialect = config.dialect ?? dialectOfUrl(config.connectionString) ?? 'postgres';
  return { ...config, dialect, queryCol: config.queryCol ?? DEFAULT_QUERY_COLUMN[dialect] };
}
