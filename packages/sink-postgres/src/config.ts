import { ConfigError, type PipelineIdentity, z } from '@tidemark/sdk';

/** PostgreSQL types a mapped column may be created with (`createTable: true`) or is checked against. */
export const COLUMN_TYPES = [
  'text',
  'varchar',
  'smallint',
  'integer',
  'bigint',
  'numeric',
  'real',
  'double precision',
  'boolean',
  'jsonb',
  'json',
  'timestamptz',
  'timestamp',
  'date',
  'uuid',
  'bytea',
] as const;

/**
 * Where a column's value comes from:
 * `value` (the whole value: JSON for json/jsonb columns, UTF-8 text otherwise), `value.<path>`
 * (a field of the JSON value, dotted path), `key`, `headers.<name>`, `rowtime`, `provenance`
 * (every provenance column plus the pipeline id, as one JSON object), `provenance.<column>`
 * (e.g. `provenance.file.path`), `pipeline` (the pipeline id, and `/task` when set).
 */
export const FIELD_PATTERN = /^(value(\..+)?|key|headers\..+|rowtime|provenance(\..+)?|pipeline)$/;

const columnSource = z.union([
  z
    .string()
    .regex(
      FIELD_PATTERN,
      'must be value, value.<path>, key, headers.<name>, rowtime, provenance[.<column>] or pipeline',
    ),
  z.object({
    from: z
      .string()
      .regex(
        FIELD_PATTERN,
        'must be value, value.<path>, key, headers.<name>, rowtime, provenance[.<column>] or pipeline',
      )
      .describe('The record field the column takes its value from.'),
    type: z
      .enum(COLUMN_TYPES)
      .optional()
      .describe(
        'Column type used by `createTable`; by default inferred from the field (text for value fields).',
      ),
  }),
]);

export const postgresSinkConfigSchema = z
  .object({
    host: z
      .string()
      .min(1)
      .default(() => process.env.PGHOST ?? '127.0.0.1')
      .describe('Server host name or address. Default: $PGHOST or 127.0.0.1.'),
    port: z
      .number()
      .int()
      .min(1)
      .max(65_535)
      .default(() => Number(process.env.PGPORT ?? 5432))
      .describe('Server port. Default: $PGPORT or 5432.'),
    database: z
      .string()
      .min(1)
      .default(() => process.env.PGDATABASE ?? 'postgres')
      .describe('Database name. Default: $PGDATABASE or postgres.'),
    user: z
      .string()
      .min(1)
      .default(() => process.env.PGUSER ?? 'postgres')
      .describe('Role to connect as. Default: $PGUSER or postgres.'),
    password: z
      .string()
      .optional()
      .describe('Password of the role; omit for trust or peer authentication, or set $PGPASSWORD.')
      .meta({ secret: true }),
    ssl: z
      .union([
        z.boolean(),
        z.object({
          ca: z.string().optional().describe('PEM of the certificate authorities to trust.'),
          rejectUnauthorized: z
            .boolean()
            .default(true)
            .describe('Reject servers whose certificate does not verify. Turn off only for local tests.'),
        }),
      ])
      .default(false)
      .describe('TLS: true for defaults, or an object with certificates; false for plaintext.'),
    applicationName: z
      .string()
      .min(1)
      .max(63)
      .default('tidemark:{pipeline}')
      .describe(
        "application_name of the sink's connections (seen in pg_stat_activity); `{pipeline}` expands to the pipeline id.",
      ),
    schema: z
      .string()
      .min(1)
      .default('public')
      .describe('Schema of the target table, the dead-letter table and the watermark table.'),
    table: z.string().min(1).optional().describe('Target table. Exactly one of table and procedure.'),
    procedure: z
      .string()
      .min(1)
      .optional()
      .describe(
        'A function `name(batch jsonb)` called once per write with the batch as a JSON array, inside the ' +
          'transaction that also stores the watermark. Exactly one of table and procedure.',
      ),
    mode: z
      .enum(['append', 'upsert', 'copy'])
      .default('append')
      .describe(
        "How rows are written to the table: 'append' multi-row INSERT, 'upsert' INSERT … ON CONFLICT (key) DO UPDATE, " +
          "'copy' COPY FROM STDIN (fastest).",
      ),
    key: z
      .array(z.string().min(1))
      .default([])
      .describe(
        'Columns of the unique key `upsert` conflicts on (a primary key or unique index of the table).',
      ),
    columns: z
      .record(z.string().min(1), columnSource)
      .default({ value: 'value' })
      .describe(
        'Table column → record field: value, value.<path>, key, headers.<name>, rowtime, provenance, ' +
          'provenance.<column>, pipeline; or { from, type } to give the type createTable uses.',
      ),
    createTable: z
      .boolean()
      .default(false)
      .describe(
        'Create the table from `columns` when it does not exist (types from each column or inferred).',
      ),
    deadLetterTable: z
      .string()
      .min(1)
      .default('{table}_dead_letter')
      .describe(
        "Table for records routed 'dead-letter' (created by the first dead letter; written in the same transaction). " +
          '`{table}` expands to the table (or procedure) name.',
      ),
    watermarkTable: z
      .string()
      .min(1)
      .default('tidemark_watermarks')
      .describe('Table holding one row of watermarks per pipeline and task (created when missing).'),
    insertBatchRows: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(1_000)
      .describe('Rows per multi-row INSERT statement (append and upsert).'),
    lockTimeoutMs: z
      .number()
      .int()
      .min(100)
      .default(15_000)
      .describe(
        'Longest wait for a lock (the watermark row an older instance holds while committing); the pipeline retries after it.',
      ),
    connectTimeoutMs: z
      .number()
      .int()
      .min(100)
      .default(10_000)
      .describe('Upper bound on connecting; the pipeline retries after it.'),
  })
  .superRefine((config, context) => {
    if ((config.table === undefined) === (config.procedure === undefined)) {
      context.addIssue({
        code: 'custom',
        path: ['table'],
        message: 'set exactly one of table and procedure',
      });
    }
    if (config.mode === 'upsert' && config.key.length === 0) {
      context.addIssue({
        code: 'custom',
        path: ['key'],
        message: "mode 'upsert' needs the key columns it conflicts on",
      });
    }
    for (const column of config.key) {
      if (!(column in config.columns)) {
        context.addIssue({
          code: 'custom',
          path: ['key'],
          message: `key column '${column}' is not in columns`,
        });
      }
    }
    if (config.procedure !== undefined && config.createTable) {
      context.addIssue({
        code: 'custom',
        path: ['createTable'],
        message: 'createTable applies to a table, not a procedure',
      });
    }
  })
  .describe('PostgreSQL sink: rows and source watermarks commit in one database transaction.');

/** The sink configuration as written in YAML (defaults not applied). */
export type PostgresSinkConfigInput = z.input<typeof postgresSinkConfigSchema>;
/** The validated configuration, defaults applied. */
export type PostgresSinkConfig = z.output<typeof postgresSinkConfigSchema>;

/** `pipelineId` or `pipelineId/taskId`: how an identity is written in rows and names. */
export function identityLabel(identity: PipelineIdentity): string {
  return identity.taskId === undefined ? identity.pipelineId : `${identity.pipelineId}/${identity.taskId}`;
}

/** The application_name of the sink's connections for `identity` (at most 63 bytes, as the server keeps). */
export function resolveApplicationName(config: PostgresSinkConfig, identity: PipelineIdentity): string {
  return config.applicationName.replaceAll('{pipeline}', identityLabel(identity)).slice(0, 63);
}

/** The dead-letter table name, `{table}` expanded. */
export function resolveDeadLetterTable(config: PostgresSinkConfig): string {
  return config.deadLetterTable.replaceAll('{table}', config.table ?? config.procedure ?? '');
}

/** Validates `input` and applies defaults; throws a ConfigError listing every problem. */
export function parsePostgresSinkConfig(input: unknown): PostgresSinkConfig {
  const result = postgresSinkConfigSchema.safeParse(input);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => ({
    path: issue.path.map(String).join('.'),
    message: issue.message,
  }));
  throw new ConfigError(
    `postgres sink: invalid configuration: ${issues.map((issue) => `${issue.path || '(root)'}: ${issue.message}`).join('; ')}`,
    issues,
    { fix: 'Correct the listed sink options.' },
  );
}
