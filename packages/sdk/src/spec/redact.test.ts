import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { REDACTED, redactSecrets } from './redact.js';

describe('redactSecrets', () => {
  const schema = z.object({
    brokers: z.array(z.string()),
    sasl: z
      .object({
        username: z.string(),
        secretValue: z.string().meta({ secret: true }),
      })
      .optional(),
    ssl: z.union([z.boolean(), z.object({ key: z.string().meta({ secret: true }).optional() })]).optional(),
    apiKey: z.string().default('k'),
  });

  it('redacts fields marked secret, nested, in unions, and credential-like names', () => {
    const value = {
      brokers: ['a:1'],
      sasl: { username: 'user', secretValue: 'hunter2' },
      ssl: { key: 'PEM' },
      apiKey: 'abc',
      password: 'pw',
    };
    expect(redactSecrets(value, schema)).toEqual({
      brokers: ['a:1'],
      sasl: { username: 'user', secretValue: REDACTED },
      ssl: { key: REDACTED },
      apiKey: REDACTED,
      password: REDACTED,
    });
  });

  it('does not change the input and passes plain values through', () => {
    const value = { brokers: ['b:2'], ssl: true };
    expect(redactSecrets(value, schema)).toEqual({ brokers: ['b:2'], ssl: true });
    expect(value).toEqual({ brokers: ['b:2'], ssl: true });
  });
});

describe('validation messages', () => {
  it('never quote the value of a secret field', async () => {
    const { describeConfigIssues } = await import('./issues.js');
    const schema = z.strictObject({
      password: z.string().min(12).meta({ secret: true }),
      user: z.string().min(12),
    });
    const raw = { password: 'hunter2', user: 'bob' };
    const result = schema.safeParse(raw);
    const messages = describeConfigIssues(result.error!, schema, raw).map((issue) => issue.message);
    expect(messages.join('\n')).not.toContain('hunter2');
    expect(messages.join('\n')).toContain('"bob"');
  });
});
