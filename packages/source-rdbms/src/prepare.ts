import { type RdbmsSourceConfigInput, rdbmsSourceConfigSchema, resolveConfig } from './config.js';
import { DIALECTS } from './dialects.js';

export interface PrepareOptions {
  /** Only return the SQL; do not run it. */
  readonly dryRun?: boolean;
}

export interface PrepareResult {
  readonly dialect: string;
  readonly table: string;
  /** The statements, in order; run unless `dryRun`. */
  readonly statements: readonly string[];
  readonly applied: boolean;
}

/**
 * Prepares the table of an rdbms source for `horizon: in-flight`: adds queryCol (postgres: an
 * xid8 column stamped with the writing transaction's id by a trigger; mysql: a TIMESTAMP(6)
 * maintained by the server), and an index on (queryCol, tieBreakCol). Idempotent. `config` is
 * the source's options as written in YAML. Errors: CONFIG_INVALID (no table), and the dialect's
 * connection errors (AUTH_FAILED, NOT_FOUND, CONNECTION_FAILED…).
 */
export async function prepare(
  config: RdbmsSourceConfigInput,
  options: PrepareOptions = {},
): Promise<PrepareResult> {
  const resolved = resolveConfig(rdbmsSourceConfigSchema.parse(config));
  const dialect = DIALECTS[resolved.dialect];
  const statements = dialect.prepareStatements(resolved);
  if (!options.dryRun) await dialect.execute(resolved, statements);
  return {
    dialect: resolved.dialect,
    table: resolved.table ?? '',
    statements,
    applied: options.dryRun !== true,
  };
}
