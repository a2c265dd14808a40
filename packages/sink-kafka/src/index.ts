/**
 * @tidemark/sink-kafka — the transactional Kafka sink: records and source watermarks commit in
 * one Kafka transaction. The default export is the connector (`type: kafka`); `createKafkaSink`
 * builds a sink for programmatic use; `readWatermarks` and friends read committed state back.
 */
import { defineSink } from '@tidemark/sdk';
import { kafkaSinkConfigSchema } from './config.js';
import { KafkaSink } from './kafka-sink.js';

export {
  BROKER_MAX_TRANSACTION_TIMEOUT_MS,
  DEFAULT_OFFSET_METADATA_MAX_BYTES,
  defaultBrokers,
  type KafkaSinkConfig,
  type KafkaSinkConfigInput,
  kafkaSinkConfigSchema,
  parseKafkaSinkConfig,
  resolveTransactionalId,
  resolveWatermarkGroup,
} from './config.js';
export {
  type CommittedOffset,
  createKafkajsClient,
  type KafkaAdmin,
  type KafkaClient,
  type KafkaClientFactory,
  type KafkaTransaction,
  type OffsetEntry,
  type OutgoingMessage,
  type TopicMessages,
  type TransactionalProducer,
} from './kafka-client.js';
export {
  createKafkaSink,
  ERROR_HEADER,
  KafkaSink,
  type KafkaSinkOptions,
  PIPELINE_HEADER,
  PROVENANCE_HEADER_PREFIX,
} from './kafka-sink.js';
export {
  type ReadWatermarksOptions,
  readWatermarkOffsets,
  readWatermarks,
  readWatermarkTimestamp,
  watermarkOf,
} from './watermark-store.js';

const PACKAGE_VERSION = '0.1.0';

/** The Kafka sink connector, loaded by the runtime for `type: kafka` sinks. */
export const kafkaSink = defineSink({
  type: 'kafka',
  packageName: '@tidemark/sink-kafka',
  version: PACKAGE_VERSION,
  description:
    'Transactional Kafka sink: records and source watermarks commit atomically in one Kafka transaction.',
  configSchema: kafkaSinkConfigSchema,
  capabilities: { transactional: true, deadLetter: true },
  create(config, context) {
    return new KafkaSink(config, { logger: context.logger });
  },
});

export default kafkaSink;
