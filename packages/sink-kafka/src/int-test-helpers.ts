/**
 * Helpers for this package's integration tests (not exported): fresh names, and a
 * read_committed consumer that collects a topic until a condition holds.
 */
import { randomBytes } from 'node:crypto';
import { type SinkRecord, TidemarkError } from '@tidemark/sdk';
import kafkajs from 'kafkajs';
import { clientFactoryFor } from './client-factory.js';
import { defaultBrokers } from './config.js';
import type { KafkaClientFactory, KafkaTransaction } from './kafka-client.js';

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

/** What {@link faultyClientFactory} does at the next EndTxn. */
export type CommitMode = 'commit-then-fail' | 'fail-without-commit' | 'pass';

/** The configured client (`client` option) with every transaction passed through `wrap`. */
export function wrapTransactions(
  wrap: (transaction: KafkaTransaction) => KafkaTransaction,
): KafkaClientFactory {
  return (config, logger) => {
    const real = clientFactoryFor(config)(config, logger);
    return {
      createAdmin: () => real.createAdmin(),
      createProducer(transactionalId) {
        const producer = real.createProducer(transactionalId);
        return {
          connect: (stillWanted) => producer.connect(stillWanted),
          disconnect: () => producer.disconnect(),
          begin: async () => wrap(await producer.begin()),
        };
      },
    };
  };
}

/**
 * The configured client with EndTxn failing on demand, as a timeout after really committing or
 * without committing: `mode()` is asked at every commit.
 */
export function faultyClientFactory(mode: () => CommitMode): KafkaClientFactory {
  return wrapTransactions((transaction) => ({
    send: (batches) => transaction.send(batches),
    sendOffsets: (group, entries) => transaction.sendOffsets(group, entries),
    abort: () => transaction.abort(),
    async commit() {
      const current = mode();
      if (current === 'commit-then-fail') await transaction.commit();
      if (current !== 'pass') throw new TidemarkError('TIMEOUT', 'injected: EndTxn request timed out');
      await transaction.commit();
    },
  }));
}

/** The kafkajs client whose AddOffsetsToTxn fails for good while `refuse()` says so. */
export function refusingOffsetsFactory(refuse: () => boolean): KafkaClientFactory {
  return wrapTransactions((transaction) => ({
    send: (batches) => transaction.send(batches),
    commit: () => transaction.commit(),
    abort: () => transaction.abort(),
    async sendOffsets(group, entries) {
      if (refuse()) throw new TidemarkError('INTERNAL', 'injected: offsets refused for good');
      await transaction.sendOffsets(group, entries);
    },
  }));
}

/** Awaits `promise`, expecting it to reject with a TidemarkError, and returns that error. */
export async function rejection(promise: Promise<unknown>): Promise<TidemarkError> {
  const error = await promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (thrown: unknown) => thrown,
  );
  if (!TidemarkError.isInstance(error)) throw new Error(`expected a TidemarkError, got ${String(error)}`);
  return error;
}
