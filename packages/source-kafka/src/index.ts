/**
 * @tidemark/source-kafka — reads Kafka topics (read_committed) into Tidemark, positioned per
 * partition by the pipeline's committed watermark. Exactly-once by rewind.
 */
import { requireTopics } from '@tidemark/kafka';
import { defineSource, splitBySlice } from '@tidemark/sdk';
import { kafkaSourceConfigSchema } from './config.js';
import { KafkaSource } from './kafka-source.js';
import { KAFKA_PROVENANCE } from './provenance.js';

export {
  defaultBrokers,
  type KafkaSourceConfig,
  type KafkaSourceConfigInput,
  kafkaSourceConfigSchema,
} from './config.js';
export { createKafkaSource, KafkaSource } from './kafka-source.js';
export { KAFKA_PROVENANCE } from './provenance.js';
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
  create: (config, context) => new KafkaSource(config, context.name, context.logger),
  /** The brokers answer (topics may appear later: a missing one is read once it exists). */
  check: (config, context) => requireTopics(config, config.connectTimeoutMs, [], false, context.signal),
  /** Task n reads the partitions p with p % tasks = n, of every topic. */
  split: (config, taskCount) => splitBySlice(config, taskCount),
  taskOfUnit: (unit, taskCount) => Number(unit.slice(unit.lastIndexOf('/') + 1)) % taskCount,
});

export default kafkaSource;
