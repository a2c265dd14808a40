// A RabbitMQ stream queue into Kafka: exactly-once by offset replay (see amqp-common.mjs).
import { amqpKafka } from './amqp-common.mjs';

export const amqpStreamKafka = (options) => amqpKafka({ ...options, queueType: 'stream' });
