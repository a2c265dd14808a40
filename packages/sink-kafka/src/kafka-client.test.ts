import { describe, expect, it } from 'vitest';
import { parseKafkaSinkConfig } from './config.js';
import { translateKafkaError } from './kafka-client.js';

const config = parseKafkaSinkConfig({ brokers: ['127.0.0.1:9092'], topic: 'orders' });

/** The shape kafkajs 2.2.4 gives a broker error, wrapped the way its retrier wraps it. */
function brokerError(type: string): Error {
  const protocolError = Object.assign(new Error(`broker said ${type}`), {
    name: 'KafkaJSProtocolError',
    type,
  });
  return Object.assign(new Error('Number of retries exceeded'), {
    name: 'KafkaJSNumberOfRetriesExceeded',
    cause: protocolError,
  });
}

describe('translateKafkaError', () => {
  it('names a full broker disk as STORAGE_FULL, retriable, with the fix', () => {
    const error = translateKafkaError(brokerError('KAFKA_STORAGE_ERROR'), 'send', config);
    expect(error.code).toBe('STORAGE_FULL');
    expect(error.retriable).toBe(true);
    expect(error.fix).toContain('Free disk space');
  });

  it('makes a request the broker finds too large a non-retriable configuration error', () => {
    for (const type of ['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE']) {
      const error = translateKafkaError(brokerError(type), 'send', config);
      expect(error.code).toBe('CONFIG_INVALID');
      expect(error.retriable).toBe(false);
      expect(error.fix).toContain('batch.maxBytes');
    }
  });

  it('keeps anything it does not recognise retriable (INTERNAL)', () => {
    const error = translateKafkaError(brokerError('SOMETHING_NEW'), 'send', config);
    expect(error.code).toBe('INTERNAL');
    expect(error.retriable).toBe(true);
  });
});
