import type { KafkaClientName } from '@tidemark/kafka';
import { type KafkaClient, type KafkaClientOptions, KafkajsClient } from './kafka-client.js';
import { PlatformaticClient } from './platformatic-client.js';

/**
 * Creates the client of the library the source's `client` option names. Creating it does no
 * I/O; `platformatic` throws CONFIG_INVALID on a Node the library does not support.
 */
export function createKafkaClient(
  options: KafkaClientOptions & { readonly client: KafkaClientName },
): KafkaClient {
  return options.client === 'kafkajs' ? new KafkajsClient(options) : new PlatformaticClient(options);
}
