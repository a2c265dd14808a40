import { TidemarkError } from '@tidemark/sdk';
import { describe, expect, it } from 'vitest';
import { errorLinks } from './error-links.js';
import {
  assertPlatformaticRuns,
  platformaticOptions,
  platformaticSupported,
  retryDelayMs,
} from './platformatic.js';

describe('platformatic client settings', () => {
  it('knows the Node versions the library supports', () => {
    expect(platformaticSupported('24.21.0')).toBe(true);
    expect(platformaticSupported('24.5.0')).toBe(false);
    expect(platformaticSupported('22.22.0')).toBe(true);
    expect(platformaticSupported('22.12.0')).toBe(false);
    expect(platformaticSupported('20.19.0')).toBe(false);
  });

  it('refuses an older Node with CONFIG_INVALID naming client: kafkajs as the fix', () => {
    expect(() => assertPlatformaticRuns('kafka source', '24.6.0')).not.toThrow();
    const failure = (() => {
      try {
        assertPlatformaticRuns('kafka source', '20.19.0');
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(TidemarkError.hasCode(failure, 'CONFIG_INVALID')).toBe(true);
    expect((failure as TidemarkError).message).toContain('kafka source');
    expect((failure as TidemarkError).fix).toContain('client: kafkajs');
  });

  it('retries after 20 ms first, then backs off to at most 1 s', () => {
    expect([1, 2, 3].map(retryDelayMs)).toEqual([20, 20, 20]);
    expect(retryDelayMs(4)).toBe(40);
    expect(retryDelayMs(20)).toBe(1_000);
  });

  it('maps TLS and SASL options to the library', () => {
    const options = platformaticOptions(
      {
        brokers: ['b:9093'],
        clientId: 'c',
        ssl: { ca: 'CA', rejectUnauthorized: false },
        sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' },
      },
      { connectTimeoutMs: 1_000, requestTimeoutMs: 2_000 },
    );
    expect(options.bootstrapBrokers).toEqual(['b:9093']);
    expect(options.tls).toEqual({ ca: 'CA', rejectUnauthorized: false });
    expect(options.sasl).toEqual({ mechanism: 'SCRAM-SHA-512', username: 'u', password: 'p' });
    expect(options.timeout).toBe(2_000);
  });

  it('walks causes and aggregated errors', () => {
    const inner = Object.assign(new Error('inner'), { apiId: 'PRODUCER_FENCED' });
    const outer = new AggregateError([new Error('wrap', { cause: inner })], 'outer');
    expect([...errorLinks(outer)].some((link) => link.apiId === 'PRODUCER_FENCED')).toBe(true);
  });
});
