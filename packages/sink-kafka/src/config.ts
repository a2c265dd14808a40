import { ConfigError, type PipelineIdentity } from '@tidemark/sdk';
import { z } from 'zod';

/** Brokers used when `brokers` is not configured: `TIDEMARK_KAFKA_BROKERS` (comma-separated) or loopback. */
export function defaultBrokers(): string[] {
  const fromEnvironment = process.env.TIDEMARK_KAFKA_BROKERS;
  if (fromEnvironment) {
    const brokers = fromEnvironment
      .split(',')
      .map((broker) => broker.trim())
      .filter((broker) => broker.length > 0);
    if (brokers.length > 0) return brokers;
  }
  return ['127.0.0.1:9092'];
}

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

const saslSchema = z
  .object({
    mechanism: z
      .enum(['plain', 'scram-sha-256', 'scram-sha-512'])
      .default('plain')
      .describe('SASL mechanism the brokers accept.'),
    username: z.string().min(1).describe('SASL user name.'),
    password: z.string().min(1).describe('SASL password.').meta({ secret: true }),
  })
  .describe('SASL authentication; omit for none.');

const sslSchema = z
  .union([
    z.boolean(),
    z.object({
      ca: z
        .string()
        .optional()
        .describe('PEM of the certificate authorities to trust; omit for the system ones.'),
      cert: z.string().optional().describe('PEM client certificate for mutual TLS.'),
      key: z
        .string()
        .optional()
        .describe('PEM private key of the client certificate.')
        .meta({ secret: true }),
      rejectUnauthorized: z
        .boolean()
        .default(true)
        .describe('Reject brokers whose certificate does not verify. Turn off only for local tests.'),
    }),
  ])
  .describe('TLS: true for defaults, or an object with certificates; omit or false for plaintext.');

export const kafkaSinkConfigSchema = z
  .object({
    brokers: z
      .array(z.string().min(1))
      .min(1)
      .default(defaultBrokers)
      .describe('Bootstrap brokers as host:port. Default: $TIDEMARK_KAFKA_BROKERS or 127.0.0.1:9092.'),
    clientId: z
      .string()
      .min(1)
      .default('tidemark-sink')
      .describe('Client id the brokers see in logs and quotas.'),
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
          'topic, `{pipeline}` to the pipeline id (and `.taskId`). Keep `{pipeline}` when several ' +
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
      .describe('Overrides the transactional.id, by default tidemark-<pipelineId>[-<taskId>].'),
    keyFormat: recordFormat.default('bytes'),
    valueFormat: recordFormat.default('bytes'),
    timestamp: z
      .enum(['rowtime', 'now'])
      .default('rowtime')
      .describe("Kafka timestamp of each message: the record's rowtime, or the time of writing."),
    provenanceHeaders: z
      .preprocess(
        (value) => (value === true ? 'json' : value === false ? 'none' : value),
        z.enum(['json', 'columns', 'none']),
      )
      .default('json')
      .describe(
        "Provenance on every output message: 'json' one header tidemark.provenance holding " +
          "{pipeline, <column>: value…}; 'columns' one header tidemark.<column> per column plus " +
          "tidemark.pipeline (about twice the client CPU per message in kafkajs); 'none'. true/false mean 'json'/'none'.",
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
    sasl: saslSchema.optional(),
    ssl: sslSchema.optional(),
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

/** `tidemark-<pipelineId>[-<taskId>]`, or the configured override. */
export function resolveTransactionalId(config: KafkaSinkConfig, identity: PipelineIdentity): string {
  if (config.transactionalId !== undefined) return config.transactionalId;
  return identity.taskId === undefined
    ? `tidemark-${identity.pipelineId}`
    : `tidemark-${identity.pipelineId}-${identity.taskId}`;
}

/** The watermark consumer group of `identity`: `watermarkGroup` with `{topic}` and `{pipeline}` expanded. */
export function resolveWatermarkGroup(config: KafkaSinkConfig, identity: PipelineIdentity): string {
  const pipeline =
    identity.taskId === undefined ? identity.pipelineId : `${identity.pipelineId}.${identity.taskId}`;
  return config.watermarkGroup.replaceAll('{topic}', config.topic).replaceAll('{pipeline}', pipeline);
}

/** Validates `input` and applies defaults; throws a ConfigError listing every problem. */
export function parseKafkaSinkConfig(input: unknown): KafkaSinkConfig {
  const result = kafkaSinkConfigSchema.safeParse(input);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => ({
    path: issue.path.map(String).join('.'),
    message: issue.message,
  }));
  throw new ConfigError(
    `kafka sink: invalid configuration: ${issues.map((issue) => `${issue.path || '(root)'}: ${issue.message}`).join('; ')}`,
    issues,
    { fix: 'Correct the listed sink options.' },
  );
}
