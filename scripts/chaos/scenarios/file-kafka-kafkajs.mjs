// file-kafka with the sink on the kafkajs client (`client: kafkajs`): the default client is
// @platformatic/kafka, and kafkajs stays selectable, so its exactly-once proof runs too.
import { fileKafka } from '../scenarios.mjs';

export default function fileKafkaKafkajs(options) {
  return fileKafka({ ...options, client: 'kafkajs' });
}
