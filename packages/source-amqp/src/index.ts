/**
 * @tidemark/source-amqp — reads RabbitMQ queues (AMQP 0-9-1) into Tidemark: stream queues
 * exactly-once by offset replay, classic and quorum queues exactly-once by acknowledging after
 * the sink commits and recognising redeliveries of committed messages.
 */
import { defineSource, splitUnitList, taskOfHashedUnit } from '@tidemark/sdk';
import { createAmqpSource, QUEUE_CAPABILITIES, STREAM_CAPABILITIES } from './amqp-source.js';
import { type AmqpSourceConfig, amqpSourceConfigSchema } from './config.js';
import { checkAmqpSource } from './preflight.js';
import { AMQP_PROVENANCE } from './provenance.js';

export { AmqpSource, createAmqpSource, QUEUE_CAPABILITIES, STREAM_CAPABILITIES } from './amqp-source.js';
export {
  type AmqpSourceConfig,
  type AmqpSourceConfigInput,
  amqpSourceConfigSchema,
  defaultUrl,
} from './config.js';
export { checkAmqpSource } from './preflight.js';
export { AMQP_PROVENANCE, messageIdentity, NULLABLE_PROVENANCE } from './provenance.js';
export type { RedeliverPosition } from './watermark.js';

const definition = {
  type: 'amqp',
  packageName: '@tidemark/source-amqp',
  version: '0.1.0',
  configSchema: amqpSourceConfigSchema,
  provenance: AMQP_PROVENANCE,
  /** Preflight of `tidemark validate --connect` (an optional member of the connector contract). */
  check: checkAmqpSource,
  /** Task n reads the queues whose name hashes to n (each queue is its own watermark unit). */
  split: (config: AmqpSourceConfig, taskCount: number) =>
    splitUnitList(config.queues, taskCount).map((queues) => (queues ? { ...config, queues } : null)),
  taskOfUnit: taskOfHashedUnit,
} as const;

/**
 * The AMQP source connector (`type: amqp`). Its declared capabilities are those of classic and
 * quorum queues (`replay: redeliver`, the default queueType); an instance configured with
 * `queueType: stream` reports `replay: seek` (see {@link amqpStreamSource}).
 */
export const amqpSource = defineSource({
  ...definition,
  description:
    'Reads RabbitMQ classic and quorum queues (acknowledged after the sink commits, redeliveries of committed messages recognised) and stream queues (replayed by offset); exactly-once.',
  capabilities: QUEUE_CAPABILITIES,
  create: (config, context) => createAmqpSource(config, context.name, context.logger),
});

/**
 * The same connector declared with the capabilities of stream queues (`replay: seek`), for
 * tools that check a connector's declaration against instances configured with
 * `queueType: stream`.
 */
export const amqpStreamSource = defineSource({
  ...definition,
  description: 'Reads RabbitMQ stream queues, replayed by offset; exactly-once.',
  capabilities: STREAM_CAPABILITIES,
  create: (config, context) => createAmqpSource(config, context.name, context.logger),
});

export default amqpSource;
