/**
 * @tidemark/sink-kafka — the transactional Kafka sink: records and source watermarks commit in
 * one Kafka transaction. The default export is the connector (`type: kafka`); `createKafkaSink`
 * builds a sink for programmatic use; `readWatermarks` and friends read committed state back.
 */
import { assertNotRunning, kafkaTaskMembershipHook, PipelineLease, requireTopics } from '@tidemark/kafka';
import { defineSink } from '@tidemark/sdk';
import { kafkaSinkConfigSchema } from './config.js';
import { KafkaSink } from './kafka-sink.js';

export { ERROR_HEADER, PIPELINE_HEADER } from '@tidemark/sdk';
export {
  defaultBrokers,
  type KafkaSinkConfig,
  type KafkaSinkConfigInput,
  kafkaSinkConfigSchema,
  parseKafkaSinkConfig,
} from './config.js';
export { createKafkaSink, KafkaSink, type KafkaSinkOptions } from './kafka-sink.js';
export { PROVENANCE_HEADER, PROVENANCE_HEADER_PREFIX } from './message-encoder.js';
export {
  type ReadWatermarksOptions,
  readWatermarkOffsets,
  readWatermarks,
  readWatermarkTimestamp,
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
  /** The brokers answer, and the topic and dead-letter topic exist or will be created. */
  async check(config, context) {
    const topics = [{ topic: config.topic, option: 'topic' }];
    if (config.deadLetterTopic !== undefined)
      topics.push({ topic: config.deadLetterTopic, option: 'deadLetterTopic' });
    await requireTopics(config, config.connectTimeoutMs, topics, config.autoCreateTopics, context.signal);
  },
  /** The run lease: membership of consumer group `tidemark.<pipeline>.lease` on the sink's cluster. */
  lease: {
    create: (config, pipelineId) => new PipelineLease(config, pipelineId),
    assertFree: (config, pipelineId) => assertNotRunning(config, pipelineId),
  },
  /** Task ownership: membership of consumer group `tidemark.<pipeline>.tasks` on the sink's cluster. */
  membership: kafkaTaskMembershipHook,
});

export default kafkaSink;
