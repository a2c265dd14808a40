// Where each service is expected, read from the environment with the loopback defaults.
// test/services.ts carries the same defaults for the tests; change both together.
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));

export const defaults = {
  kafkaBrokers: '127.0.0.1:9092',
  kinesisEndpoint: 'http://127.0.0.1:4567',
  postgresUrl: 'postgres://postgres@127.0.0.1:5432/test',
  amqpUrl: 'amqp://guest:guest@127.0.0.1:5672',
  mqttUrl: 'mqtt://127.0.0.1:1883',
};

export const kafkaVersion = '3.9.1';

/** True for 127.0.0.0/8, ::1 and localhost: only such addresses are ever started by this script. */
export function isLoopbackHost(host) {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127\.\d+\.\d+\.\d+$/.test(bare);
}

/** Splits `host:port` (IPv6 in brackets) into its parts; throws on a malformed address. */
export function parseHostPort(address, variable) {
  const match = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(address.trim());
  if (!match) throw new Error(`${variable}: expected host:port, got "${address}"`);
  return { host: match[1].replace(/^\[|\]$/g, ''), port: Number(match[2]) };
}

function parseUrl(value, variable) {
  try {
    return new URL(value);
  } catch {
    throw new Error(`${variable}: expected a URL, got "${value}"`);
  }
}

function portOf(url, fallback) {
  return url.port === '' ? fallback : Number(url.port);
}

/** Reads every address and the local state folders; call once per command. */
export function readSettings(environment = process.env) {
  const kafkaBrokers = (environment.TIDEMARK_KAFKA_BROKERS || defaults.kafkaBrokers)
    .split(',')
    .map((broker) => broker.trim())
    .filter((broker) => broker !== '');
  const firstBroker = parseHostPort(kafkaBrokers[0] ?? '', 'TIDEMARK_KAFKA_BROKERS');
  const controllerPort = environment.TIDEMARK_KAFKA_CONTROLLER_PORT
    ? Number(environment.TIDEMARK_KAFKA_CONTROLLER_PORT)
    : firstBroker.port + 1;
  const securePort = environment.TIDEMARK_KAFKA_SECURE_PORT
    ? Number(environment.TIDEMARK_KAFKA_SECURE_PORT)
    : firstBroker.port + 2;

  const kinesisEndpoint = environment.TIDEMARK_KINESIS_ENDPOINT || defaults.kinesisEndpoint;
  const kinesisUrl = parseUrl(kinesisEndpoint, 'TIDEMARK_KINESIS_ENDPOINT');
  const postgresUrl = environment.TIDEMARK_POSTGRES_URL || defaults.postgresUrl;
  const postgres = parseUrl(postgresUrl, 'TIDEMARK_POSTGRES_URL');
  const amqpUrl = environment.TIDEMARK_AMQP_URL || defaults.amqpUrl;
  const amqp = parseUrl(amqpUrl, 'TIDEMARK_AMQP_URL');
  const mqttUrl = environment.TIDEMARK_MQTT_URL || defaults.mqttUrl;
  const mqtt = parseUrl(mqttUrl, 'TIDEMARK_MQTT_URL');

  const cacheHome = environment.XDG_CACHE_HOME || path.join(homedir(), '.cache');
  const stateDirectory = environment.TIDEMARK_SERVICES_DIR
    ? path.resolve(environment.TIDEMARK_SERVICES_DIR)
    : path.join(repositoryRoot, '.tidemark', 'services');

  return {
    stateDirectory,
    kafka: {
      brokers: kafkaBrokers,
      host: firstBroker.host,
      port: firstBroker.port,
      controllerPort,
      securePort,
      libraryDirectory: path.join(cacheHome, 'tidemark', `kafka-${kafkaVersion}`, 'libs'),
      directory: path.join(stateDirectory, 'kafka'),
    },
    kinesis: {
      endpoint: kinesisEndpoint,
      protocol: kinesisUrl.protocol,
      host: kinesisUrl.hostname,
      port: portOf(kinesisUrl, kinesisUrl.protocol === 'https:' ? 443 : 80),
      directory: path.join(stateDirectory, 'kinesis'),
    },
    postgres: { url: postgresUrl, host: postgres.hostname, port: portOf(postgres, 5432) },
    rabbitmq: { url: amqpUrl, host: amqp.hostname, port: portOf(amqp, 5672) },
    mosquitto: { url: mqttUrl, host: mqtt.hostname, port: portOf(mqtt, 1883) },
  };
}

/** `user:secret@` removed, for printing. */
export function withoutPassword(url) {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}
