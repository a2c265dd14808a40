import {
  CreateStreamCommand,
  DeleteStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  PutRecordCommand,
  waitUntilStreamExists,
} from '@aws-sdk/client-kinesis';
import amqp from 'amqplib';
import { Kafka, logLevel } from 'kafkajs';
import mqtt from 'mqtt';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { amqpUrl, kafkaBrokers, kinesisClientConfig, mqttUrl, postgresUrl, uniqueName } from './services.js';

function within<T>(milliseconds: number, what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} did not happen within ${milliseconds} ms`)),
      milliseconds,
    );
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

describe('local service stack', () => {
  it('Kafka: a transactional write is read back by a read_committed consumer', async () => {
    const kafka = new Kafka({
      clientId: uniqueName('services-test'),
      brokers: kafkaBrokers,
      logLevel: logLevel.NOTHING,
    });
    const topic = uniqueName('services-test');
    const admin = kafka.admin();
    const producer = kafka.producer({
      transactionalId: uniqueName('services-test'),
      idempotent: true,
      maxInFlightRequests: 1,
    });
    const consumer = kafka.consumer({ groupId: uniqueName('services-test'), readUncommitted: false });
    await admin.connect();
    try {
      expect(await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true })).toBe(
        true,
      );

      await producer.connect();
      const transaction = await producer.transaction();
      await transaction.send({ topic, messages: [{ key: 'probe', value: 'hello kafka' }] });
      await transaction.commit();

      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const received = await within(
        60_000,
        'consuming the record',
        new Promise<{ key: string; value: string; offset: string }>((resolve) => {
          void consumer.run({
            eachMessage: async ({ message }) =>
              resolve({
                key: message.key?.toString() ?? '',
                value: message.value?.toString() ?? '',
                offset: message.offset,
              }),
          });
        }),
      );
      expect(received).toEqual({ key: 'probe', value: 'hello kafka', offset: '0' });

      // The record at offset 0 and the commit marker at offset 1. Asked only after the read: commit()
      // returns before the coordinator has written the marker, so the stable offset can still be 0.
      const [offsets] = await admin.fetchTopicOffsets(topic);
      expect(offsets?.high).toBe('2');
    } finally {
      await consumer.disconnect().catch(() => {});
      await producer.disconnect().catch(() => {});
      await admin.deleteTopics({ topics: [topic] }).catch(() => {});
      await admin.disconnect();
    }
  });

  it('Kinesis: a record put on a new stream is read back from its shard', async () => {
    const client = new KinesisClient(kinesisClientConfig());
    const StreamName = uniqueName('services-test');
    try {
      await client.send(new CreateStreamCommand({ StreamName, ShardCount: 1 }));
      await waitUntilStreamExists({ client, maxWaitTime: 30, minDelay: 1, maxDelay: 2 }, { StreamName });
      const put = await client.send(
        new PutRecordCommand({
          StreamName,
          PartitionKey: 'probe',
          Data: new TextEncoder().encode('hello kinesis'),
        }),
      );
      expect(put.SequenceNumber).toBeTruthy();
      const iterator = await client.send(
        new GetShardIteratorCommand({
          StreamName,
          ShardId: put.ShardId,
          ShardIteratorType: 'AT_SEQUENCE_NUMBER',
          StartingSequenceNumber: put.SequenceNumber,
        }),
      );
      const records = await client.send(new GetRecordsCommand({ ShardIterator: iterator.ShardIterator }));
      const first = records.Records?.[0];
      expect(first?.PartitionKey).toBe('probe');
      expect(first?.SequenceNumber).toBe(put.SequenceNumber);
      expect(new TextDecoder().decode(first?.Data)).toBe('hello kinesis');
    } finally {
      await client.send(new DeleteStreamCommand({ StreamName })).catch(() => {});
      client.destroy();
    }
  });

  it('PostgreSQL: answers a parameterised query', async () => {
    const client = new pg.Client({ connectionString: postgresUrl });
    await client.connect();
    try {
      const result = await client.query('SELECT 1 AS one, $1::int + 1 AS two', [1]);
      expect(result.rows).toEqual([{ one: 1, two: 2 }]);
    } finally {
      await client.end();
    }
  });

  it('RabbitMQ: a message published to a new queue is fetched back', async () => {
    const connection = await amqp.connect(amqpUrl);
    try {
      const channel = await connection.createChannel();
      const queue = uniqueName('services-test');
      await channel.assertQueue(queue, { exclusive: true, autoDelete: true });
      expect(channel.sendToQueue(queue, Buffer.from('hello rabbitmq'), { messageId: 'probe' })).toBe(true);
      const message = await within(
        10_000,
        'fetching the message',
        (async () => {
          for (;;) {
            const fetched = await channel.get(queue, { noAck: true });
            if (fetched) return fetched;
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        })(),
      );
      expect(message.content.toString()).toBe('hello rabbitmq');
      expect(message.properties.messageId).toBe('probe');
      await channel.close();
    } finally {
      await connection.close();
    }
  });

  it('Mosquitto: a QoS 1 publish reaches a subscriber on another connection', async () => {
    const topic = `tidemark/${uniqueName('services-test')}`;
    const subscriber = await mqtt.connectAsync(mqttUrl, { reconnectPeriod: 0, clientId: uniqueName('sub') });
    const publisher = await mqtt.connectAsync(mqttUrl, { reconnectPeriod: 0, clientId: uniqueName('pub') });
    try {
      const arrived = new Promise<string>((resolve) => {
        subscriber.on('message', (receivedTopic, payload) => {
          if (receivedTopic === topic) resolve(payload.toString());
        });
      });
      const granted = await subscriber.subscribeAsync(topic, { qos: 1 });
      expect(granted[0]?.qos).toBe(1);
      await publisher.publishAsync(topic, 'hello mosquitto', { qos: 1 });
      expect(await within(10_000, 'receiving the MQTT message', arrived)).toBe('hello mosquitto');
    } finally {
      await publisher.endAsync();
      await subscriber.endAsync();
    }
  });
});
