/**
 * Addresses of the local service stack for integration tests, read from the environment with the
 * defaults that `npm run services -- up` serves (scripts/lib/addresses.mjs holds the same defaults).
 * Import these instead of hard-coding ports, so a run against other servers needs only env vars.
 */

import { NodeHttpHandler } from '@smithy/node-http-handler';

const environment = process.env;

/** Kafka bootstrap brokers (`TIDEMARK_KAFKA_BROKERS`, comma-separated host:port). */
export const kafkaBrokers: string[] = (environment.TIDEMARK_KAFKA_BROKERS || '127.0.0.1:9092')
  .split(',')
  .map((broker) => broker.trim())
  .filter((broker) => broker !== '');

/** Kinesis emulator endpoint (`TIDEMARK_KINESIS_ENDPOINT`); any credentials and region us-east-1 work. */
export const kinesisEndpoint: string = environment.TIDEMARK_KINESIS_ENDPOINT || 'http://127.0.0.1:4567';

/** PostgreSQL connection URL (`TIDEMARK_POSTGRES_URL`); trust auth, database `test`. */
export const postgresUrl: string =
  environment.TIDEMARK_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/test';

/** RabbitMQ AMQP 0-9-1 URL (`TIDEMARK_AMQP_URL`). */
export const amqpUrl: string = environment.TIDEMARK_AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672';

/** Mosquitto MQTT URL (`TIDEMARK_MQTT_URL`). */
export const mqttUrl: string = environment.TIDEMARK_MQTT_URL || 'mqtt://127.0.0.1:1883';

/**
 * Settings for a `KinesisClient` against the emulator: region us-east-1, dummy credentials, and an
 * HTTP/1.1 handler. The client's default handler speaks HTTP/2 without TLS, which the emulator answers
 * unreliably (a few requests in a hundred fail with "Deserialization error"). Call once per client:
 * destroying a client closes its handler.
 */
export function kinesisClientConfig(): {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  requestHandler: NodeHttpHandler;
} {
  return {
    endpoint: kinesisEndpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'tidemark', secretAccessKey: 'tidemark' },
    requestHandler: new NodeHttpHandler({ connectionTimeout: 5000, requestTimeout: 30_000 }),
  };
}

/** A name unique to this call, for topics, queues, streams and groups that must not collide across runs. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}
