import { z } from '@tidemark/sdk';

/** The broker URL used when the configuration names none: `TIDEMARK_AMQP_URL`, else the local default. */
export function defaultUrl(environment: NodeJS.ProcessEnv = process.env): string {
  const fromEnvironment = environment.TIDEMARK_AMQP_URL?.trim();
  return fromEnvironment ? fromEnvironment : 'amqp://127.0.0.1:5672';
}

/** A stream offset: a non-negative integer, as a number or a decimal string; kept as a string. */
const offsetSchema = z
  .union([z.number().int().nonnegative(), z.string().regex(/^\d+$/, 'must be a non-negative integer')])
  .transform(String);

/** A point in time: an ISO 8601 date-time with offset, or epoch milliseconds; kept as epoch ms. */
const startTimeSchema = z
  .union([z.number().int().nonnegative(), z.iso.datetime({ offset: true })])
  .transform((value) => (typeof value === 'number' ? value : Date.parse(value)));

const tlsSchema = z
  .object({
    rejectUnauthorized: z
      .boolean()
      .default(true)
      .describe('Refuse a broker certificate that does not verify. Turn off only for local tests.'),
    servername: z
      .string()
      .optional()
      .describe('Host name the broker certificate must name (default: the URL host).'),
    ca: z.string().optional().describe('Trusted certificate authority, PEM (default: the system store).'),
    cert: z.string().optional().describe('Client certificate, PEM, when the broker asks for one.'),
    key: z.string().optional().meta({ secret: true }).describe('Private key of tls.cert, PEM.'),
    passphrase: z.string().optional().meta({ secret: true }).describe('Passphrase of an encrypted tls.key.'),
  })
  .strict();

/** Configuration of one AMQP source instance, as written in YAML. */
export const amqpSourceConfigSchema = z
  .object({
    url: z
      .string()
      .regex(/^amqps?:\/\//, 'must start with amqp:// or amqps://')
      .default(() => defaultUrl())
      .meta({ secret: true })
      .describe(
        'Broker URL amqp[s]://[user:password@]host[:port][/vhost] (default: TIDEMARK_AMQP_URL, else amqp://127.0.0.1:5672). Never logged.',
      ),
    username: z
      .string()
      .min(1)
      .optional()
      .describe('User name; overrides the URL. Default: TIDEMARK_AMQP_USERNAME, else the URL, else guest.'),
    password: z
      .string()
      .optional()
      .meta({ secret: true })
      .describe('Password; overrides the URL. Default: TIDEMARK_AMQP_PASSWORD, else the URL, else guest.'),
    queues: z
      .array(z.string().min(1))
      .min(1)
      .refine((queues) => new Set(queues).size === queues.length, 'must not repeat a queue')
      .describe('Queues to read; each is its own unit of the watermark and has its own connection.'),
    queueType: z
      .enum(['classic', 'quorum', 'stream'])
      .default('classic')
      .describe(
        'Type of every listed queue: classic and quorum queues are redelivered by the broker (acknowledged after the sink commits); stream queues are replayed by offset.',
      ),
    prefetch: z
      .number()
      .int()
      .min(1)
      .max(65_535)
      .default(2_000)
      .describe(
        'Messages the broker may push before they are acknowledged, per queue: the backpressure knob. On classic and quorum queues a transaction holds at most this many messages per queue: set commit.maxRecords to about half of it.',
      ),
    start: z
      .enum(['first', 'last', 'next'])
      .default('first')
      .describe(
        'Stream queues, without a committed watermark: first (the oldest message kept), last (the start of the last chunk) or next (only messages that arrive after the source opens).',
      ),
    startOffset: offsetSchema
      .optional()
      .describe('Stream queues: offset of the first message to read when there is no committed watermark.'),
    startTime: startTimeSchema
      .optional()
      .describe(
        'Stream queues: ISO time or epoch ms; reading starts at the first chunk the broker wrote at or after it (second precision) when there is no committed watermark.',
      ),
    heartbeatSeconds: z
      .number()
      .int()
      .min(0)
      .max(600)
      .default(10)
      .describe('AMQP heartbeat; a dead connection is noticed after about two missed beats. 0 disables it.'),
    connectTimeoutMs: z
      .number()
      .int()
      .positive()
      .default(10_000)
      .describe('How long opening a connection (TCP, TLS and AMQP handshake) may take.'),
    forgetAfterMs: z
      .number()
      .int()
      .positive()
      .default(120_000)
      .describe(
        'Classic and quorum queues: how long a consumer waits for redeliveries of committed but unconfirmed messages before forgetting them. Keep it above the time the broker takes to notice a dead connection (about two heartbeats of the old connection).',
      ),
    connectionName: z
      .string()
      .min(1)
      .default('tidemark')
      .describe('Connection name shown in the broker management UI (the source name is appended).'),
    tls: tlsSchema
      .optional()
      .describe('TLS options for amqps:// URLs (certificate authority, client certificate).'),
  })
  .strict()
  .superRefine((config, context) => {
    const streamOnly = ['startOffset', 'startTime'] as const;
    for (const field of streamOnly) {
      if (config[field] !== undefined && config.queueType !== 'stream') {
        context.addIssue({
          code: 'custom',
          path: [field],
          message: 'applies to stream queues only (queueType: stream)',
        });
      }
    }
    if (config.tls !== undefined && !config.url.startsWith('amqps://')) {
      context.addIssue({ code: 'custom', path: ['tls'], message: 'needs an amqps:// url' });
    }
  });

/** Input of {@link amqpSourceConfigSchema} (what a user writes). */
export type AmqpSourceConfigInput = z.input<typeof amqpSourceConfigSchema>;
/** Parsed configuration with defaults applied. */
export type AmqpSourceConfig = z.output<typeof amqpSourceConfigSchema>;
