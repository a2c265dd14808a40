/**
 * Helpers for this package's integration tests (not exported): fresh names, and a
 * read_committed consumer that collects a topic until a condition holds.
 */
import { randomBytes } from 'node:crypto';
import type { SinkRecord } from '@tidemark/sdk';
import kafkajs from 'kafkajs';
import { defaultBrokers } from './config.js';

const { Kafka, logLevel } = kafkajs;

export const brokers = defaultBrokers();

export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

export interface ConsumedMessage {
  readonly topic: string;
  readonly partition: number;
  readonly key: string | null;
  readonly value: string | null;
  readonly headers: Record<string, string>;
  readonly timestamp: string;
}

/**
 * Reads `topics` from the beginning with isolation level read_committed until `done` returns
 * true for what was read so far, or `timeoutMs` passes (then returns what it has).
 */
export async function consumeCommitted(
  topics: readonly string[],
  done: (messages: readonly ConsumedMessage[]) => boolean,
  timeoutMs = 30_000,
): Promise<ConsumedMessage[]> {
  const kafka = new Kafka({ clientId: 'sink-kafka-test', brokers, logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({
    groupId: uniqueName('test-reader'),
    readUncommitted: false,
    maxWaitTimeInMs: 200,
  });
  const messages: ConsumedMessage[] = [];
  await consumer.connect();
  try {
    for (const topic of topics) await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      void consumer.run({
        eachMessage: async ({ topic, partition, message }) => {
          const headers: Record<string, string> = {};
          for (const [name, value] of Object.entries(message.headers ?? {})) headers[name] = String(value);
          messages.push({
            topic,
            partition,
            key: message.key === null ? null : message.key.toString('utf8'),
            value: message.value === null ? null : message.value.toString('utf8'),
            headers,
            timestamp: message.timestamp,
          });
          if (done(messages)) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return messages;
}

/** A record for tests: value `value`, provenance of a fake file source. */
export function testRecord(value: string, line: number, route?: SinkRecord['route']): SinkRecord {
  return {
    key: Buffer.from(`k${line}`),
    value: Buffer.from(value),
    headers: {},
    rowtime: 1_700_000_000_000 + line,
    provenance: { 'file.path': '/data/in.txt', 'file.line': line },
    position: { unit: '/data/in.txt', next: line * 10 },
    ...(route === undefined ? {} : { route }),
  };
}
