/**
 * @tidemark/source-kafka — reads Kafka topics (read_committed) into Tidemark, positioned per
 * partition by the pipeline's committed watermark. Exactly-once by rewind.
 */
import { defineSource } from '@tidemark/sdk';
import { kafkaSourceConfigSchema } from './config.js';
import { createKafkaSource, KAFKA_PROVENANCE } from './kafka-source.js';

export {
  defaultBrokers,
  type KafkaSourceConfig,
  type KafkaSourceConfigInput,
  kafkaSourceConfigSchema,
} from './config.js';
export { createKafkaSource, KAFKA_PROVENANCE, KafkaSource } from './kafka-source.js';
export { parseUnit, unitOf } from './start-position.js';

/** The Kafka source connector (`type: kafka`). */
export const kafkaSource = defineSource({
  type: 'kafka',
  packageName: '@tidemark/source-kafka',
  version: '0.1.0',
  description:
    'Reads Kafka topics with read_committed isolation; positions per partition; exactly-once by seek.',
  configSchema: kafkaSourceConfigSchema,
  capabilities: { replay: 'seek', exactlyOnce: true, bounded: false },
  provenance: KAFKA_PROVENANCE,
  create: (config, context) => createKafkaSource(config, context.name, context.logger),
});

export default kafkaSource;
