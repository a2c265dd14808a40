/**
 * @tidemark/source-rdbms — polls a PostgreSQL or MySQL/MariaDB table (or query) in keyset order
 * on (queryCol, tieBreakCol), below a safety horizon that no in-flight transaction can still
 * write under, so rows committed late are never skipped. Exactly-once by seek.
 */
import { type ConnectorContext, defineSource } from '@tidemark/sdk';
import { type RdbmsSourceConfig, rdbmsSourceConfigSchema, resolveConfig } from './config.js';
import { DIALECTS } from './dialects.js';
import { RDBMS_PROVENANCE } from './provenance.js';
import { RDBMS_CAPABILITIES, RdbmsSource } from './rdbms-source.js';

export {
  DEFAULT_QUERY_COLUMN,
  DIALECT_NAMES,
  type DialectName,
  dialectOfUrl,
  type RdbmsSourceConfig,
  type RdbmsSourceConfigInput,
  rdbmsSourceConfigSchema,
} from './config.js';
export type { Dialect, DialectConnection, DialectRow, PageRequest } from './dialect.js';
export { decodePosition, encodePosition, type RowPosition } from './position.js';
export { type PrepareOptions, type PrepareResult, prepare } from './prepare.js';
export { RDBMS_PROVENANCE } from './provenance.js';
export { RdbmsSource } from './rdbms-source.js';

/** Creates an unopened rdbms source (no I/O until `open`). */
export function createRdbmsSource(config: RdbmsSourceConfig, context: ConnectorContext): RdbmsSource {
  const resolved = resolveConfig(config);
  return new RdbmsSource(resolved, DIALECTS[resolved.dialect], context.name, context.logger, context.signal);
}

/**
 * Preflight for `tidemark validate --connect`: connects, checks the table or query and its
 * columns, disconnects. Throws the TidemarkError a run would meet (AUTH_FAILED, NOT_FOUND…).
 */
async function check(config: RdbmsSourceConfig): Promise<void> {
  const resolved = resolveConfig(config);
  const connection = await DIALECTS[resolved.dialect].connect(resolved);
  await connection.close();
}

const definition = {
  type: 'rdbms',
  packageName: '@tidemark/source-rdbms',
  version: '0.1.0',
  description:
    'Polls a PostgreSQL or MySQL/MariaDB table or query in (queryCol, tieBreakCol) order below an in-flight-transaction horizon; exactly-once by seek.',
  configSchema: rdbmsSourceConfigSchema,
  capabilities: RDBMS_CAPABILITIES,
  provenance: RDBMS_PROVENANCE,
  create: createRdbmsSource,
  check,
};

/** The rdbms source connector (`type: rdbms`). */
export const rdbmsSource = defineSource(definition);

export default rdbmsSource;
