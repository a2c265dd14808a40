import { z } from '@tidemark/sdk';

/** Broker URL used when the configuration names none: `TIDEMARK_MQTT_URL` or the local default. */
export function defaultUrl(environment: NodeJS.ProcessEnv = process.env): string {
  const fromEnvironment = environment.TIDEMARK_MQTT_URL?.trim();
  return fromEnvironment && fromEnvironment.length > 0 ? fromEnvironment : 'mqtt://127.0.0.1:1883';
}

const tlsSchema = z
  .object({
    rejectUnauthorized: z
      .boolean()
      .default(true)
      .describe('Refuse a broker certificate that does not verify against the trusted authorities.'),
    servername: z
      .string()
      .optional()
      .describe('Server name sent in the TLS handshake (SNI) and checked against the certificate.'),
    ca: z.string().optional().describe('Trusted certificate authority, PEM (default: the system store).'),
    cert: z.string().optional().describe('Client certificate, PEM, when the broker asks for one.'),
    key: z.string().optional().meta({ secret: true }).describe('Private key of the client certificate, PEM.'),
  })
  .strict();

const subscriptionSchema = z.union([
  z.string().min(1),
  z
    .object({
      topic: z.string().min(1).describe('Topic filter; `+` and `#` wildcards allowed.'),
      qos: z
        .union([z.literal(0), z.literal(1), z.literal(2)])
        .optional()
        .describe('Maximum QoS of this subscription (default: the source qos).'),
    })
    .strict(),
]);

/** Configuration of one MQTT source instance, as written in YAML. */
export const mqttSourceConfigSchema = z
  .object({
    url: z
      .string()
      .regex(/^(mqtts?|tcp|ssl|tls):\/\//, 'must start with mqtt://, mqtts://, tcp://, ssl:// or tls://')
      .default(() => defaultUrl())
      .meta({ secret: true })
      .describe(
        'Broker URL, mqtt://host:port or mqtts://host:port (default: TIDEMARK_MQTT_URL, else mqtt://127.0.0.1:1883). Prefer username/password over credentials in the URL.',
      ),
    clientId: z
      .string()
      .min(1)
      .max(65_535)
      .describe(
        'Client id of the persistent session. Must be stable across restarts and unique per source: the broker keeps the session (subscriptions and unacknowledged messages) under it.',
      ),
    topics: z
      .array(subscriptionSchema)
      .min(1)
      .describe('Topic filters to subscribe to (strings or { topic, qos }); wildcards `+` and `#` allowed.'),
    qos: z
      .union([z.literal(0), z.literal(1), z.literal(2)])
      .default(1)
      .describe('Subscription QoS: 1 or 2 for exactly-once; 0 is at-most-once (nothing to redeliver).'),
    protocolVersion: z
      .union([z.literal(4), z.literal(5)])
      .default(5)
      .describe('MQTT protocol: 4 is MQTT 3.1.1, 5 is MQTT 5.'),
    sessionExpirySeconds: z
      .number()
      .int()
      .min(1)
      .max(4_294_967_295)
      .default(86_400)
      .describe(
        'MQTT 5 only: how long the broker keeps the session while the source is offline (seconds). Messages arriving later than this after a stop are lost.',
      ),
    username: z
      .string()
      .optional()
      .describe('User name for the broker (also read from TIDEMARK_MQTT_USERNAME).'),
    password: z
      .string()
      .optional()
      .meta({ secret: true })
      .describe('Password for the broker (also read from TIDEMARK_MQTT_PASSWORD). Never logged.'),
    tls: tlsSchema.optional().describe('TLS options for mqtts:// URLs.'),
    keepaliveSeconds: z
      .number()
      .int()
      .min(1)
      .max(65_535)
      .default(30)
      .describe('MQTT keepalive (seconds). Withheld acknowledgements never block it.'),
    connectTimeoutMs: z
      .number()
      .int()
      .positive()
      .default(10_000)
      .describe('How long connecting (TCP, TLS and CONNACK) may take before CONNECTION_FAILED.'),
    maxInflight: z
      .number()
      .int()
      .min(1)
      .max(65_535)
      .default(1_000)
      .describe(
        'Most messages read and not yet acknowledged (MQTT 5: sent as Receive Maximum). Bounds the watermark: each one is listed in it until its acknowledgement is confirmed.',
      ),
    commitRequestMs: z
      .number()
      .int()
      .nonnegative()
      .default(20)
      .describe(
        'When messages are held unacknowledged and nothing new arrived for this long, ask the runtime to commit now (the broker sends no more than its in-flight window until acknowledgements come).',
      ),
  })
  .strict();

export type MqttSourceConfig = z.output<typeof mqttSourceConfigSchema>;
export type MqttSourceConfigInput = z.input<typeof mqttSourceConfigSchema>;

/** One subscription as sent to the broker. */
export interface Subscription {
  readonly topic: string;
  readonly qos: 0 | 1 | 2;
}

/** The configured topics with the source qos applied where a subscription names none. */
export function subscriptionsOf(config: MqttSourceConfig): Subscription[] {
  return config.topics.map((entry) =>
    typeof entry === 'string'
      ? { topic: entry, qos: config.qos }
      : { topic: entry.topic, qos: entry.qos ?? config.qos },
  );
}

/** Credentials from the config, else from the environment; never logged. */
export function credentialsOf(
  config: MqttSourceConfig,
  environment: NodeJS.ProcessEnv = process.env,
): { username?: string; password?: string } {
  const username = config.username ?? environment.TIDEMARK_MQTT_USERNAME;
  const password = config.password ?? environment.TIDEMARK_MQTT_PASSWORD;
  return {
    ...(username === undefined ? {} : { username }),
    ...(password === undefined ? {} : { password }),
  };
}

/** The URL without user info, for messages and logs. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/)[^@/]*@/i, '$1');
}
