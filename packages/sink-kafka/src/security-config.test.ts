import { REDACTED, redactSecrets } from '@tidemark/sdk';
import { describe, expect, it } from 'vitest';
import { kafkaSinkConfigSchema, parseKafkaSinkConfig } from './config.js';

describe('the sink configuration as logged (effective configuration)', () => {
  it('redacts the SASL password and the TLS client key, and keeps the rest', () => {
    const config = parseKafkaSinkConfig({
      topic: 't',
      ssl: { ca: 'CA-PEM', cert: 'CERT-PEM', key: 'KEY-PEM-secret-4b2' },
      sasl: { mechanism: 'scram-sha-512', username: 'tidemark', password: 'sasl-secret-8d1' },
    });
    const shown = redactSecrets(config, kafkaSinkConfigSchema) as Record<string, Record<string, unknown>>;
    const text = JSON.stringify(shown);
    expect(text).not.toContain('sasl-secret-8d1');
    expect(text).not.toContain('KEY-PEM-secret-4b2');
    expect(shown.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'tidemark', password: REDACTED });
    expect(shown.ssl).toMatchObject({ ca: 'CA-PEM', key: REDACTED });
  });
});
