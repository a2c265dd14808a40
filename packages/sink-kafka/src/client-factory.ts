import { createKafkajsClient, type KafkaClientFactory } from './kafka-client.js';
import { createPlatformaticClient } from './platformatic-client.js';

/** The client library the sink's `client` option names. */
export function clientFactoryFor(config: {
  readonly client: 'platformatic' | 'kafkajs';
}): KafkaClientFactory {
  return config.client === 'kafkajs' ? createKafkajsClient : createPlatformaticClient;
}

/** Creates the client of the library the configuration names. Creating it does no I/O. */
export const createConfiguredClient: KafkaClientFactory = (config, logger) =>
  clientFactoryFor(config)(config, logger);
