import { kafkaClientField, kafkaConnectionFields } from '@tidemark/kafka';

export { defaultBrokers } from '@tidemark/kafka';

import { identityName, type PipelineIdentity, parseConnectorConfig } from '@tidemark/sdk';
import { z } from 'zod';

/** The broker's default `transaction.max.timeout.ms`: a transaction timeout above it is rejected. */
export const BROKER_MAX_TRANSACTION_TIMEOUT_MS = 900_000;

/** The broker's default `offset.metadata.max.bytes`. */
export const DEFAULT_OFFSET_METADATA_MAX_BYTES = 4096;

const recordFormat = z
  .enum(['bytes', 'string', 'json'])
  .describe(
    "How the bytes of a record are checked before they are written: 'bytes' passes them as they are, " +
      "'string' requires valid UTF-8, 'json' requires valid JSON and rewrites it compactly.",
  );

export const kafkaSinkConfigSchema = z
  .object({
    ...kafkaConnectionFields('tidemark-sink'),
    client: kafkaClientField('platformatic'),
    topic: z.string().min(1).describe('Main output topic.'),
    deadLetterTopic: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Topic for records routed 'dead-letter' (written in the same transaction). Omit to reject them.",
      ),
    watermarkGroup: z
      .string()
      .min(1)
      .default('{topic}_watermark.{pipeline}')
      .describe(
        'Consumer group whose transactional offset commit holds the watermarks. `{topic}` expands to the ' +
          'topic, `{pipeline}` to the pipeline id (and `/taskId`). Keep `{pipeline}` when several ' +
          'pipelines write one topic: each needs its own group.',
      ),
    watermarkTopic: z
      .string()
      .min(1)
      .default('tidemark.watermarks')
      .describe(
        'Topic whose partitions carry the chunks of a watermark too large for one offset commit entry. ' +
          'Only its committed group offsets are used; nothing is ever written to it.',
      ),
    watermarkTopicPartitions: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(32)
      .describe(
        'Partitions the watermark topic is created with; it grows when a watermark needs more chunks.',
      ),
    offsetMetadataMaxBytes: z
      .number()
      .int()
      .min(256)
      .default(DEFAULT_OFFSET_METADATA_MAX_BYTES)
      .describe("The brokers' offset.metadata.max.bytes: the largest metadata of one offset commit entry."),
    transactionalId: z
      .string()
      .min(1)
      .optional()
      .describe('Overrides the transactional.id, by default tidemark-<pipelineId>[/<taskId>].'),
    keyFormat: recordFormat.default('bytes'),
    valueFormat: recordFormat.default('bytes'),
    timestamp: z
      .enum(['rowtime', 'now'])
      .default('rowtime')
      .describe("Kafka timestamp of each message: the record's rowtime, or the time of writing."),
    provenanceHeaders: z
      .preprocess(
        (value) => (value === true ? 'json' : value === false ? 'none' : value),
        z.enum(['compact', 'json', 'columns', 'none']),
      )
      .default('compact')
      .describe(
        "Provenance on every output message: 'compact' one header tidemark.p holding the values " +
          "tab-separated in the source's column order (no names, no pipeline); 'json' one header " +
          'tidemark.provenance holding {pipeline, <column>: value…}; ' +
          "'columns' one header tidemark.<column> per column plus tidemark.pipeline (the costliest); " +
          "'none'. true/false mean 'json'/'none'.",
      ),
    transactionTimeoutMs: z
      .number()
      .int()
      .min(1_000)
      .max(BROKER_MAX_TRANSACTION_TIMEOUT_MS)
      .default(60_000)
      .describe(
        'Broker-side transaction timeout. Must exceed the longest commit interval and stay at or under the ' +
          "brokers' transaction.max.timeout.ms (900000 by default).",
      ),
    compression: z.enum(['none', 'gzip']).default('none').describe('Compression of the record batches.'),
    autoCreateTopics: z
      .boolean()
      .default(true)
      .describe(
        'Create the topic, the dead-letter topic and the watermark topic when missing (broker defaults).',
      ),
    connectTimeoutMs: z
      .number()
      .int()
      .min(100)
      .default(10_000)
      .describe('Upper bound on connecting and fencing at open/recover; the runtime retries after it.'),
    requestTimeoutMs: z
      .number()
      .int()
      .min(100)
      .default(30_000)
      .describe('Timeout of one request to a broker.'),
    batch: z
      .object({
        maxRecords: z
          .number()
          .int()
          .min(1)
          .default(1_000)
          .describe('Send the buffered records once this many are buffered.'),
        maxBytes: z
          .number()
          .int()
          .min(1_024)
          .default(512 * 1024)
          .describe(
            "Send the buffered records once their keys and values reach this many bytes. Keep it under the brokers' message.max.bytes.",
          ),
      })
      .prefault({})
      .describe('How records are buffered inside a transaction before they are sent.'),
  })
  .superRefine((config, context) => {
    // The watermark topic holds only committed offsets; sharing a data topic would put a chunk
    // entry on the partition of the header entry and corrupt the stored watermark.
    for (const [name, value] of [
      ['topic', config.topic],
      ['deadLetterTopic', config.deadLetterTopic],
    ] as const) {
      if (value !== undefined && value === config.watermarkTopic) {
        context.addIssue({
          code: 'custom',
          path: ['watermarkTopic'],
          message: `must differ from ${name} ('${value}'): it carries watermark chunks, never records`,
        });
      }
    }
  })
  .describe('Transactional Kafka sink: records and source watermarks commit in one Kafka transaction.');

/** The sink configuration as written in YAML (defaults not applied). */
export type KafkaSinkConfigInput = z.input<typeof kafkaSinkConfigSchema>;
/** The validated configuration, defaults applied. */
export type KafkaSinkConfig = z.output<typeof kafkaSinkConfigSchema>;

/** `tidemark-<pipelineId>[/<taskId>]`, or the configured override. */
export function resolveTransactionalId(config: KafkaSinkConfig, identity: PipelineIdentity): string {
  if (config.transactionalId !== undefined) return config.transactionalId;
  return `tidemark-${identityName(identity)}`;
}

/** The watermark consumer group of `identity`: `watermarkGroup` with `{topic}` and `{pipeline}` expanded. */
export function resolveWatermarkGroup(config: KafkaSinkConfig, identity: PipelineIdentity): string {
  const pipeline = identityName(identity);
  return config.watermarkGroup.replaceAll('{topic}', config.topic).replaceAll('{pipeline}', pipeline);
}

/** Validates `input` and applies defaults; throws a ConfigError listing every problem. */
export function parseKafkaSinkConfig(input: unknown, path = ''): KafkaSinkConfig {
  return parseConnectorConfig(
    { type: 'kafka', packageName: '@tidemark/sink-kafka', configSchema: kafkaSinkConfigSchema },
    input,
    path,
  );
}
