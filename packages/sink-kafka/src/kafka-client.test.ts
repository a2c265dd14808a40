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

/** The shape @platformatic/kafka gives a broker error after its retries: aggregates of aggregates. */
function platformaticError(inner: Record<string, unknown>): Error {
  const protocolError = Object.assign(new Error('broker error'), inner);
  const response = Object.assign(new AggregateError([protocolError], 'Received response with error'), {
    code: 'PLT_KFK_RESPONSE',
  });
  return Object.assign(new AggregateError([response], 'endTransaction failed 2 times.'), {
    code: 'PLT_KFK_MULTIPLE',
  });
}

describe('translateKafkaError with @platformatic/kafka errors', () => {
  it('finds PRODUCER_FENCED inside the aggregates and names it FENCED', () => {
    const error = platformaticError({ code: 'PLT_KFK_PROTOCOL', apiId: 'PRODUCER_FENCED', apiCode: 90 });
    expect(translateKafkaError(error, 'commit', config).code).toBe('FENCED');
  });

  it('names a network failure CONNECTION_FAILED and a request timeout TIMEOUT', () => {
    expect(translateKafkaError(platformaticError({ code: 'PLT_KFK_NETWORK' }), 'send', config).code).toBe(
      'CONNECTION_FAILED',
    );
    expect(translateKafkaError(platformaticError({ code: 'PLT_KFK_TIMEOUT' }), 'send', config).code).toBe(
      'TIMEOUT',
    );
  });

  it('names MESSAGE_TOO_LARGE a configuration error with the fix', () => {
    const translated = translateKafkaError(
      platformaticError({ code: 'PLT_KFK_PROTOCOL', apiId: 'MESSAGE_TOO_LARGE' }),
      'send',
      config,
    );
    expect(translated.code).toBe('CONFIG_INVALID');
    expect(translated.fix).toMatch(/batch\.maxBytes/);
  });
});
