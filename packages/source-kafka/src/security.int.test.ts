import {
  localSecureListener,
  operatorVisibleText,
  SECURITY_FAILURES,
  type SecureOverrides,
  secureConnection,
} from '@tidemark/kafka';
import { type Source, TidemarkError, type TidemarkRecord } from '@tidemark/sdk';
import kafkajs from 'kafkajs';
import { describe, expect, it, onTestFinished } from 'vitest';
import { defaultBrokers, kafkaSourceConfigSchema } from './config.js';
import { createKafkaSource } from './kafka-source.js';

/**
 * The client libraries the source runs on; each runs the whole suite. A client is given by the
 * source options that select it (none: the default).
 */
const clients: { name: string; options: Record<string, unknown> }[] = [
  { name: 'platformatic', options: { client: 'platformatic' } },
  { name: 'kafkajs', options: { client: 'kafkajs' } },
];

const secure = localSecureListener();
const connection = (overrides: SecureOverrides = {}) => secureConnection(secure, overrides);

const uniqueTopic = () =>
  `tm-src-secure-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

/** Produces `values` to a new one-partition topic through the plaintext listener of the same broker. */
async function topicWith(values: readonly string[]): Promise<string> {
  const topic = uniqueTopic();
  const kafka = new kafkajs.Kafka({ brokers: defaultBrokers(), logLevel: kafkajs.logLevel.NOTHING });
  const producer = kafka.producer();
  await producer.connect();
  try {
    await producer.send({ topic, messages: values.map((value) => ({ value })) });
  } finally {
    await producer.disconnect();
  }
  return topic;
}

function sourceFor(topic: string, extra: Record<string, unknown>): Source {
  const source = createKafkaSource(
    kafkaSourceConfigSchema.parse({ topics: [topic], fetchMaxWaitMs: 200, ...extra }),
    'secure',
  );
  onTestFinished(() => source.close());
  return source;
}

describe.each(clients)('Kafka source through the TLS + SASL/SCRAM listener ($name)', ({ options }) => {
  it('reads what was produced', async () => {
    const topic = await topicWith(['one', 'two', 'three']);
    const source = sourceFor(topic, { ...options, ...connection() });
    await source.open(null);
    const records: TidemarkRecord[] = [];
    const deadline = Date.now() + 20_000;
    while (records.length < 3 && Date.now() < deadline) {
      const batch = await source.read({
        signal: new AbortController().signal,
        maxRecords: 100,
        maxBytes: 1_000_000,
        maxWaitMs: 200,
      });
      records.push(...batch.records);
    }
    expect(records.map((record) => Buffer.from(record.value ?? []).toString('utf8'))).toEqual([
      'one',
      'two',
      'three',
    ]);
  }, 40_000);

  it.each(SECURITY_FAILURES)(
    'open with $case fails with $code naming the fix, and shows no secret',
    async ({ overrides, code, fix }) => {
      const source = sourceFor(uniqueTopic(), { ...options, ...connection(overrides) });
      const error = await source.open(null).then(
        () => {
          throw new Error('expected open to fail');
        },
        (thrown: unknown) => thrown,
      );
      expect(TidemarkError.isInstance(error)).toBe(true);
      const failure = error as TidemarkError;
      expect(failure.code).toBe(code);
      expect(failure.retriable).toBe(false);
      expect(failure.fix).toMatch(fix);
      expect(operatorVisibleText(failure)).not.toContain(overrides.password ?? secure.password);
    },
    40_000,
  );
});
