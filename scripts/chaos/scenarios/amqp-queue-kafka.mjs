// A RabbitMQ quorum queue into Kafka: exactly-once by acknowledging after the sink commit and
// recognising redeliveries of committed messages (see amqp-common.mjs).
import { amqpKafka } from './amqp-common.mjs';

export const amqpQueueKafka = (options) => amqpKafka({ ...options, queueType: 'quorum' });
