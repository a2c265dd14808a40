import type { DialectName } from './config.js';
import type { Dialect } from './dialect.js';
import { mysqlDialect } from './mysql/mysql-dialect.js';
import { postgresDialect } from './postgres/postgres-dialect.js';

/** Every dialect, by the name `dialect` (or the connectionString scheme) selects. */
export const DIALECTS: Readonly<Record<DialectName, Dialect>> = {
  postgres: postgresDialect,
  mysql: mysqlDialect,
};
