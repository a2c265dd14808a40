import { z } from '@tidemark/sdk';

const streamNameSchema = z
  .string()
  .regex(/^[a-zA-Z0-9_.-]{1,128}$/, 'must be a Kinesis stream name (1–128 of a-z A-Z 0-9 _ . -)');

const startTimeSchema = z
  .union([
    z.number().int().nonnegative(),
    z
      .string()
      .refine(
        (text) => /^\d+$/.test(text) || !Number.isNaN(Date.parse(text)),
        'must be an ISO date-time or epoch milliseconds',
      ),
  ])
  .transform((value) =>
    typeof value === 'number' ? value : /^\d+$/.test(value) ? Number(value) : Date.parse(value),
  );

const credentialsSchema = z
  .object({
    accessKeyId: z.string().min(1).meta({ secret: true }).describe('AWS access key id.'),
    secretAccessKey: z.string().min(1).meta({ secret: true }).describe('AWS secret access key.'),
    sessionToken: z
      .string()
      .min(1)
      .optional()
      .meta({ secret: true })
      .describe('Session token of temporary credentials.'),
  })
  .strict();

/** Configuration of one Kinesis source instance, as written in YAML. */
export const kinesisSourceConfigSchema = z
  .object({
    streams: z
      .array(streamNameSchema)
      .min(1)
      .refine((names) => new Set(names).size === names.length, 'lists a stream twice')
      .describe('Names of the streams to read; every shard of each is read.'),
    region: z
      .string()
      .min(1)
      .optional()
      .describe('AWS region (default: the standard AWS chain: AWS_REGION, then the shared config file).'),
    endpoint: z
      .url()
      .optional()
      .describe(
        'Kinesis endpoint URL, e.g. http://127.0.0.1:4567 for a local emulator (default: the standard AWS chain, then the region’s endpoint).',
      ),
    credentials: credentialsSchema
      .optional()
      .describe(
        'Static credentials (default: the standard AWS chain: environment, shared files, SSO, container or instance role).',
      ),
    profile: z
      .string()
      .min(1)
      .optional()
      .describe('Named profile of the shared AWS config files, when credentials are not given.'),
    start: z
      .enum(['trim-horizon', 'latest'])
      .default('trim-horizon')
      .describe(
        'Where shards start without a committed watermark: the oldest record kept (trim-horizon), or records arriving from the first open on (latest).',
      ),
    startTime: startTimeSchema
      .optional()
      .describe(
        'Start at the first record that arrived at or after this time (ISO 8601 or epoch ms); beats start.',
      ),
    deaggregate: z
      .boolean()
      .default(true)
      .describe(
        'Split records written by the Kinesis Producer Library (aggregated) into their user records.',
      ),
    maxRecordsPerCall: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(10_000)
      .describe('Upper bound of records one GetRecords call returns.'),
    pollIntervalMs: z
      .number()
      .int()
      .min(0)
      .default(200)
      .describe(
        'How long a shard that returned nothing waits before it is asked again (AWS allows 5 GetRecords per second per shard).',
      ),
    shardRefreshMs: z
      .number()
      .int()
      .min(100)
      .default(10_000)
      .describe(
        'How often the shard list of each stream is read again (it is also read when a shard closes).',
      ),
    maxBackoffMs: z
      .number()
      .int()
      .min(10)
      .default(5_000)
      .describe('Upper bound of the pause of a throttled shard (throttling doubles the pause from 100 ms).'),
    maxAttempts: z
      .number()
      .int()
      .min(1)
      .default(3)
      .describe(
        'Attempts of one request inside the AWS client (its own retry of throttling and network errors).',
      ),
    connectTimeoutMs: z
      .number()
      .int()
      .min(100)
      .default(5_000)
      .describe('How long connecting to the endpoint may take.'),
    requestTimeoutMs: z
      .number()
      .int()
      .min(100)
      .default(10_000)
      .describe('How long one request may wait for its answer.'),
  })
  .strict();

export type KinesisSourceConfig = z.output<typeof kinesisSourceConfigSchema>;
export type KinesisSourceConfigInput = z.input<typeof kinesisSourceConfigSchema>;
