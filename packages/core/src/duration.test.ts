import { describe, expect, it } from 'vitest';
import { durationSchema, parseDuration } from './duration.js';

describe('parseDuration', () => {
  it('reads every unit', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('1s')).toBe(1_000);
    expect(parseDuration('1.5m')).toBe(90_000);
    expect(parseDuration('2h')).toBe(7_200_000);
    expect(parseDuration('1d')).toBe(86_400_000);
  });

  it('rejects anything else', () => {
    for (const text of ['', '1', 'soon', '1 s', '-1s', '0s', '1w', 's'])
      expect(parseDuration(text), text).toBeUndefined();
  });

  it('validates and converts in a schema', () => {
    const schema = durationSchema('test');
    expect(schema.parse('250ms')).toBe(250);
    const result = schema.safeParse('fast');
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toContain("expected a positive duration like '500ms'");
  });
});
