import { kafkaClientField, kafkaConnectionFields } from '@tidemark/kafka';

export { defaultBrokers } from '@tidemark/kafka';

import { taskSliceSchema } from '@tidemark/sdk';
import { z } from 'zod';

const offsetSchema = z
  .union([z.number().int().nonnegative(), z.string().regex(/^\d+$/, 'must be a non-negative integer')])
  .transform((offset) => String(offset));

const startPositionSchema = z
  .object({
    topic: z.string().min(1).describe('Topic of the partition.'),
    partition: z.number().int().nonnegative().describe('Partition number.'),
    offset: offsetSchema.describe('Offset of the first record to read (a number or a decimal string).'),
  })
  .strict();

const startTimeSchema = z
  .union([
    z.number().int().nonnegative(),
    z
      .string()
      .refine(
        (text) => !Number.isNaN(Date.parse(text)) || /^\d+$/.test(text),
        'must be an ISO date-time or epoch milliseconds',
      ),
  ])
  .transform((value) =>
    typeof value === 'number' ? value : /^\d+$/.test(value) ? Number(value) : Date.parse(value),
  );

/** Configuration of one Kafka source instance, as written in YAML. */
export const kafkaSourceConfigSchema = z
  .object({
    ...kafkaConnectionFields('tidemark-source-kafka'),
    client: kafkaClientField('platformatic'),
    topics: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe('Topics to read. Exactly one of topics and topicPattern.'),
    topicPattern: z
      .string()
      .min(1)
      .refine((pattern) => isValidPattern(pattern), 'must be a valid regular expression')
      .optional()
      .describe(
        'Regular expression; every topic it matches is read, including topics created later. Exactly one of topics and topicPattern.',
      ),
    startPositions: z
      .array(startPositionSchema)
      .optional()
      .describe('Explicit start offset per partition. Beaten only by a committed watermark.'),
    startOffset: offsetSchema
      .optional()
      .describe(
        'One start offset for every partition not covered by a watermark or startPositions (clamped to the partition).',
      ),
    startTime: startTimeSchema
      .optional()
      .describe('Start at the first record whose timestamp is at or after this time (ISO 8601 or epoch ms).'),
    start: z
      .enum(['earliest', 'latest'])
      .default('earliest')
      .describe('Where partitions start when nothing more specific applies.'),
    stopAtEnd: z
      .boolean()
      .default(false)
      .describe('Read up to the end offsets seen at open, then end (bounded mode, for tests and backfills).'),
    metadataRefreshMs: z
      .number()
      .int()
      .min(100)
      .default(30_000)
      .describe('How often to look for new partitions and, with topicPattern, new matching topics.'),
    monitoringGroup: z
      .string()
      .min(1)
      .optional()
      .describe(
        'Consumer group to which acknowledged positions are copied so lag tools show them. Never read back.',
      ),
    connectTimeoutMs: z
      .number()
      .int()
      .min(100)
      .default(10_000)
      .describe('How long open may take to reach the brokers before failing with CONNECTION_FAILED.'),
    task: taskSliceSchema,
    requestTimeoutMs: z.number().int().min(100).default(30_000).describe('Timeout of one broker request.'),
    sessionTimeoutMs: z
      .number()
      .int()
      .min(6_000)
      .default(30_000)
      .describe(
        'Session timeout of the private fetch group of client kafkajs (used for fetching only, never for positions); the platformatic client uses no group.',
      ),
    fetchMaxWaitMs: z
      .number()
      .int()
      .min(10)
      .default(500)
      .describe(
        'How long one fetch waits on the broker for data; bounds how long seek and close wait for a fetch.',
      ),
    maxBytesPerPartition: z
      .number()
      .int()
      .min(1024)
      .default(1_048_576)
      .describe('Upper bound of bytes fetched per partition per fetch.'),
    maxBytesPerFetch: z
      .number()
      .int()
      .min(1024)
      .default(10_485_760)
      .describe('Upper bound of bytes per fetch response.'),
    bufferMaxRecords: z
      .number()
      .int()
      .min(1)
      .default(20_000)
      .describe('Fetching pauses while this many records wait in memory for read.'),
    bufferMaxBytes: z
      .number()
      .int()
      .min(1024)
      .default(33_554_432)
      .describe('Fetching pauses while this many payload bytes wait in memory for read.'),
  })
  .strict()
  .superRefine((config, context) => {
    if ((config.topics === undefined) === (config.topicPattern === undefined)) {
      context.addIssue({
        code: 'custom',
        path: config.topics === undefined ? ['topics'] : ['topicPattern'],
        message: 'set exactly one of topics and topicPattern',
      });
    }
  });

export type KafkaSourceConfig = z.output<typeof kafkaSourceConfigSchema>;
export type KafkaSourceConfigInput = z.input<typeof kafkaSourceConfigSchema>;

function isValidPattern(pattern: string): boolean {
  try {
    new RegExp(pattern);
    return true;
  } catch {
    return false;
  }
}
