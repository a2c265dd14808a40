import { configJsonSchema, parseConnectorConfig } from '@tidemark/sdk';
import { describe, expect, it } from 'vitest';
import { connectSettings } from './connection.js';
import { amqpSource } from './index.js';
import { streamStart } from './queue-reader.js';

const parse = (raw: unknown) => parseConnectorConfig(amqpSource, raw, 'sources[0]');

describe('amqp config', () => {
  it('applies defaults', () => {
    const config = parse({ queues: ['orders'] });
    expect(config).toMatchObject({
      queueType: 'classic',
      prefetch: 2000,
      start: 'first',
      heartbeatSeconds: 10,
    });
  });

  it('refuses stream-only start options on other queues and tls without amqps', () => {
    expect(() => parse({ queues: ['q'], startOffset: 3 })).toThrow(/startOffset: .*stream/);
    expect(() => parse({ queues: ['q'], url: 'amqp://h', tls: { ca: 'x' } })).toThrow(/tls: needs an amqps/);
    expect(() => parse({ queues: ['q', 'q'] })).toThrow(/repeat/);
  });

  it('takes credentials from config, then environment, then the URL, and names only host:port/vhost', () => {
    const config = parse({ url: 'amqps://urluser:urlpass@broker.example:5999/prod', queues: ['q'] });
    const fromUrl = connectSettings(config, 'orders', {});
    expect(fromUrl.options).toMatchObject({
      protocol: 'amqps',
      hostname: 'broker.example',
      port: 5999,
      vhost: 'prod',
    });
    expect(fromUrl.options).toMatchObject({ username: 'urluser', password: 'urlpass' });
    expect(fromUrl.endpoint).toBe('broker.example:5999/prod');
    expect(fromUrl.socket.rejectUnauthorized).toBe(true);
    const fromEnvironment = connectSettings(config, 'orders', {
      TIDEMARK_AMQP_USERNAME: 'envuser',
      TIDEMARK_AMQP_PASSWORD: 'envpass',
    });
    expect(fromEnvironment.options).toMatchObject({ username: 'envuser', password: 'envpass' });
    const explicit = connectSettings({ ...config, username: 'u', password: 'p' }, 'orders', {
      TIDEMARK_AMQP_PASSWORD: 'envpass',
    });
    expect(explicit.options).toMatchObject({ username: 'u', password: 'p' });
    expect(JSON.stringify(explicit.endpoint)).not.toContain('p@');
  });

  it('builds x-stream-offset: an exact offset, a time in seconds as an AMQP timestamp, or a keyword', () => {
    const config = parse({ queues: ['s'], queueType: 'stream', start: 'last' });
    expect(streamStart(42n, config)).toBe(42);
    expect(streamStart(null, config)).toBe('last');
    const timed = parse({ queues: ['s'], queueType: 'stream', startTime: '2026-01-01T00:00:01.900Z' });
    expect(streamStart(null, timed)).toEqual({
      '!': 'timestamp',
      value: Date.parse('2026-01-01T00:00:01Z') / 1000,
    });
  });

  it('marks the url and password secret', () => {
    const properties = configJsonSchema(amqpSource).properties as Record<string, Record<string, unknown>>;
    expect(properties.url?.['x-secret']).toBe(true);
    expect(properties.password?.['x-secret']).toBe(true);
    expect(properties.username?.['x-secret']).toBeUndefined();
  });
});
