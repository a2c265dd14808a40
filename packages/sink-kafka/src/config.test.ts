import { type ConfigError, TidemarkError } from '@tidemark/sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  defaultBrokers,
  kafkaSinkConfigSchema,
  parseKafkaSinkConfig,
  resolveTransactionalId,
  resolveWatermarkGroup,
} from './config.js';

const saved = process.env.TIDEMARK_KAFKA_BROKERS;
afterEach(() => {
  if (saved === undefined) delete process.env.TIDEMARK_KAFKA_BROKERS;
  else process.env.TIDEMARK_KAFKA_BROKERS = saved;
});

describe('kafka sink config', () => {
  it('applies defaults', () => {
    delete process.env.TIDEMARK_KAFKA_BROKERS;
    const config = parseKafkaSinkConfig({ topic: 'orders' });
    expect(config).toMatchObject({
      brokers: ['127.0.0.1:9092'],
      transactionTimeoutMs: 60_000,
      provenanceHeaders: 'compact',
      compression: 'none',
      keyFormat: 'bytes',
      batch: { maxRecords: 1_000, maxBytes: 512 * 1024 },
    });
  });

  it('takes brokers from TIDEMARK_KAFKA_BROKERS', () => {
    process.env.TIDEMARK_KAFKA_BROKERS = 'a:1, b:2';
    expect(defaultBrokers()).toEqual(['a:1', 'b:2']);
  });

  it('rejects a transaction timeout above the broker maximum, naming the field', () => {
    try {
      parseKafkaSinkConfig({ topic: 'orders', transactionTimeoutMs: 900_001 });
      throw new Error('expected a ConfigError');
    } catch (error) {
      expect(TidemarkError.hasCode(error, 'CONFIG_INVALID')).toBe(true);
      expect((error as Error).message).toContain('transactionTimeoutMs');
    }
  });

  it('refuses a watermark topic that is also a data topic, naming the field', () => {
    for (const input of [
      { topic: 'orders', watermarkTopic: 'orders' },
      { topic: 'orders', deadLetterTopic: 'dead', watermarkTopic: 'dead' },
    ]) {
      const error = (() => {
        try {
          parseKafkaSinkConfig(input);
        } catch (caught) {
          return caught as ConfigError;
        }
        throw new Error('accepted');
      })();
      expect(error.code).toBe('CONFIG_INVALID');
      expect(error.issues[0]).toMatchObject({ path: 'watermarkTopic' });
      expect(error.issues[0]?.message).toMatch(/must differ from/);
    }
  });

  it('derives the transactional id and the watermark group from the pipeline identity', () => {
    const config = parseKafkaSinkConfig({ topic: 'orders' });
    expect(resolveTransactionalId(config, { pipelineId: 'p' })).toBe('tidemark-p');
    expect(resolveTransactionalId(config, { pipelineId: 'p', taskId: '3' })).toBe('tidemark-p/3');
    expect(resolveWatermarkGroup(config, { pipelineId: 'p' })).toBe('orders_watermark.p');
    expect(resolveWatermarkGroup(config, { pipelineId: 'p', taskId: '3' })).toBe('orders_watermark.p/3');
    const fixed = parseKafkaSinkConfig({
      topic: 'orders',
      watermarkGroup: '{topic}_watermark',
      transactionalId: 'x',
    });
    expect(resolveWatermarkGroup(fixed, { pipelineId: 'p' })).toBe('orders_watermark');
    expect(resolveTransactionalId(fixed, { pipelineId: 'p' })).toBe('x');
  });

  it('describes every field and marks secrets', () => {
    const schema = z.toJSONSchema(kafkaSinkConfigSchema, { io: 'input' }) as {
      properties: Record<string, { description?: string }>;
    };
    for (const [name, property] of Object.entries(schema.properties)) {
      expect(property.description, name).toBeTruthy();
    }
    const sasl = kafkaSinkConfigSchema.shape.sasl.unwrap();
    expect(sasl.shape.password.meta()).toMatchObject({ secret: true });
  });
});
