/**
 * @tidemark/sink-postgres — the PostgreSQL sink: rows (or a call of the user's function) and the
 * pipeline's source watermarks commit in one database transaction. The default export is the
 * connector (`type: postgres`); `createPostgresSink` builds a sink for programmatic use.
 */
import { type ConnectorContext, defineSink } from '@tidemark/sdk';
import { type PostgresSinkConfig, postgresSinkConfigSchema } from './config.js';
import { PostgresSink } from './postgres-sink.js';
import { checkPostgresSink } from './preflight.js';
import { postgresRunLease } from './run-lease.js';

export {
  COLUMN_TYPES,
  identityLabel,
  type PostgresSinkConfig,
  type PostgresSinkConfigInput,
  parsePostgresSinkConfig,
  postgresSinkConfigSchema,
  resolveApplicationName,
  resolveDeadLetterTable,
} from './config.js';
export { createPostgresSink, PostgresSink, type PostgresSinkOptions } from './postgres-sink.js';
export { checkPostgresSink } from './preflight.js';
export { PostgresRunLease, postgresRunLease } from './run-lease.js';
export { decodeStoredWatermark, encodeStoredWatermark, type StoredWatermark } from './watermark-document.js';

const PACKAGE_VERSION = '0.1.0';

/**
 * The PostgreSQL sink connector, loaded by the runtime for `type: postgres` sinks. Besides
 * `create` it offers the optional hooks `check` (preflight of `tidemark validate --connect`) and
 * `lease` (the run lease `tidemark run` holds and `watermarks reset` checks).
 */
const definition = {
  type: 'postgres',
  packageName: '@tidemark/sink-postgres',
  version: PACKAGE_VERSION,
  description:
    'PostgreSQL sink: rows (or a call of your function) and source watermarks commit in one database transaction.',
  configSchema: postgresSinkConfigSchema,
  capabilities: { transactional: true, deadLetter: true },
  create(config: PostgresSinkConfig, context: ConnectorContext) {
    return new PostgresSink(config, { logger: context.logger });
  },
  check: checkPostgresSink,
  lease: postgresRunLease,
};

export const postgresSink = defineSink(definition);

export default postgresSink;
