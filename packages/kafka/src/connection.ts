import type { ConnectionOptions } from 'node:tls';
import { z } from 'zod';

/** Brokers used when the configuration names none: `TIDEMARK_KAFKA_BROKERS` (comma-separated) or loopback. */
export function defaultBrokers(environment: NodeJS.ProcessEnv = process.env): string[] {
  const fromEnvironment = environment.TIDEMARK_KAFKA_BROKERS?.split(',')
    .map((broker) => broker.trim())
    .filter((broker) => broker.length > 0);
  return fromEnvironment && fromEnvironment.length > 0 ? fromEnvironment : ['127.0.0.1:9092'];
}

const sslSchema = z
  .union([
    z.boolean(),
    z
      .object({
        ca: z
          .string()
          .optional()
          .describe('PEM of the certificate authorities to trust; omit for the system ones.'),
        cert: z.string().optional().describe('PEM client certificate for mutual TLS.'),
        key: z
          .string()
          .optional()
          .meta({ secret: true })
          .describe('PEM private key of the client certificate.'),
        rejectUnauthorized: z
          .boolean()
          .default(true)
          .describe('Reject brokers whose certificate does not verify. Turn off only for local tests.'),
      })
      .strict(),
  ])
  .default(false)
  .describe('TLS to the brokers: true for defaults, or an object with certificates; false for plaintext.');

const saslSchema = z
  .object({
    mechanism: z
      .enum(['plain', 'scram-sha-256', 'scram-sha-512'])
      .describe('SASL mechanism the brokers accept (no default: plain sends the password as it is).'),
    username: z.string().min(1).describe('SASL user name.'),
    password: z.string().min(1).meta({ secret: true }).describe('SASL password.'),
  })
  .strict()
  .optional()
  .describe('SASL authentication; omit for none.');

/**
 * The connection options every Kafka connector accepts, spread into its schema:
 * `z.object({ ...kafkaConnectionFields('tidemark-sink'), topic: … })`. One definition, so the
 * source and the sink read brokers, TLS and SASL the same way.
 */
export function kafkaConnectionFields(defaultClientId: string) {
  return {
    brokers: z
      .array(z.string().min(1))
      .min(1)
      .default(() => defaultBrokers())
      .describe('Bootstrap brokers as host:port. Default: $TIDEMARK_KAFKA_BROKERS or 127.0.0.1:9092.'),
    clientId: z
      .string()
      .min(1)
      .default(defaultClientId)
      .describe('Client id the brokers see in logs and quotas.'),
    ssl: sslSchema,
    sasl: saslSchema,
  };
}

/** The Kafka client libraries a connector can run on. */
export const KAFKA_CLIENTS = ['platformatic', 'kafkajs'] as const;
export type KafkaClientName = (typeof KAFKA_CLIENTS)[number];

/** The `client` option: which client library speaks to the brokers. */
export function kafkaClientField(defaultClient: KafkaClientName) {
  return z
    .enum(KAFKA_CLIENTS)
    .default(defaultClient)
    .describe(
      "Kafka client library: 'platformatic' (@platformatic/kafka: faster; the sink reads committed offsets " +
        "with require_stable; needs Node >= 22.22 or >= 24.6) or 'kafkajs' (kafkajs 2.2.4).",
    );
}

const connectionSchema = z.object(kafkaConnectionFields('tidemark'));

/** The parsed connection options of a Kafka connector. */
export type KafkaConnection = Pick<
  z.output<typeof connectionSchema>,
  'brokers' | 'clientId' | 'ssl' | 'sasl'
>;

/** The TLS options for kafkajs: false for plaintext. */
export function tlsOptions(ssl: KafkaConnection['ssl']): boolean | ConnectionOptions {
  if (typeof ssl === 'boolean') return ssl;
  const options: ConnectionOptions = { rejectUnauthorized: ssl.rejectUnauthorized };
  if (ssl.ca !== undefined) options.ca = ssl.ca;
  if (ssl.cert !== undefined) options.cert = ssl.cert;
  if (ssl.key !== undefined) options.key = ssl.key;
  return options;
}
