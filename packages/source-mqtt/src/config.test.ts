import { describe, expect, it } from 'vitest';
import { credentialsOf, defaultUrl, mqttSourceConfigSchema, redactUrl, subscriptionsOf } from './config.js';

describe('MQTT source config', () => {
  it('applies defaults and the source qos to plain topic filters', () => {
    const config = mqttSourceConfigSchema.parse({
      clientId: 'a',
      topics: ['x/+', { topic: 'y/#', qos: 2 }, { topic: 'z' }],
    });
    expect(config).toMatchObject({
      qos: 1,
      protocolVersion: 5,
      maxInflight: 1_000,
      sessionExpirySeconds: 86_400,
    });
    expect(subscriptionsOf(config)).toEqual([
      { topic: 'x/+', qos: 1 },
      { topic: 'y/#', qos: 2 },
      { topic: 'z', qos: 1 },
    ]);
  });

  it('rejects a missing client id, no topics, an unknown field and a non-MQTT URL', () => {
    const result = mqttSourceConfigSchema.safeParse({ topics: [], url: 'http://x', other: 1 });
    expect(result.success).toBe(false);
    const paths = result.error!.issues.map((issue) => issue.path.join('.') || issue.code);
    expect(paths).toEqual(expect.arrayContaining(['clientId', 'topics', 'url']));
  });

  it('takes the URL and credentials from the environment when the config has none', () => {
    expect(defaultUrl({ TIDEMARK_MQTT_URL: 'mqtts://b:8883' })).toBe('mqtts://b:8883');
    expect(defaultUrl({})).toBe('mqtt://127.0.0.1:1883');
    const config = mqttSourceConfigSchema.parse({ clientId: 'a', topics: ['t'] });
    expect(credentialsOf(config, { TIDEMARK_MQTT_USERNAME: 'u', TIDEMARK_MQTT_PASSWORD: 'p' })).toEqual({
      username: 'u',
      password: 'p',
    });
    expect(credentialsOf({ ...config, username: 'v' }, {})).toEqual({ username: 'v' });
  });

  it('redacts user info from URLs', () => {
    expect(redactUrl('mqtts://user:secret@broker:8883')).toBe('mqtts://broker:8883');
    expect(redactUrl('mqtt://broker:1883')).toBe('mqtt://broker:1883');
  });
});
