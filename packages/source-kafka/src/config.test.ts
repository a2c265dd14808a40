import { describe, expect, it } from 'vitest';
import { defaultBrokers, kafkaSourceConfigSchema } from './config.js';
import kafkaSource from './index.js';

describe('kafka source config', () => {
  it('fills defaults', () => {
    const config = kafkaSourceConfigSchema.parse({ topics: ['orders'] });
    expect(config.start).toBe('earliest');
    expect(config.stopAtEnd).toBe(false);
    expect(config.brokers.length).toBeGreaterThan(0);
    expect(config.connectTimeoutMs).toBe(10_000);
    expect(config.ssl).toBe(false);
    expect(config.client).toBe('platformatic');
  });

  it('runs on kafkajs on request, and on no other client', () => {
    expect(kafkaSourceConfigSchema.parse({ topics: ['o'], client: 'kafkajs' }).client).toBe('kafkajs');
    expect(kafkaSourceConfigSchema.safeParse({ topics: ['o'], client: 'librdkafka' }).success).toBe(false);
  });

  it('requires exactly one of topics and topicPattern', () => {
    expect(kafkaSourceConfigSchema.safeParse({}).success).toBe(false);
    expect(kafkaSourceConfigSchema.safeParse({ topics: ['a'], topicPattern: 'b' }).success).toBe(false);
    expect(kafkaSourceConfigSchema.safeParse({ topicPattern: '^orders-' }).success).toBe(true);
    expect(kafkaSourceConfigSchema.safeParse({ topicPattern: '(' }).success).toBe(false);
  });

  it('normalises offsets to decimal strings and start times to epoch ms', () => {
    const config = kafkaSourceConfigSchema.parse({
      topics: ['orders'],
      startOffset: 5,
      startPositions: [{ topic: 'orders', partition: 0, offset: '18446744073709551615' }],
      startTime: '2024-01-01T00:00:00Z',
    });
    expect(config.startOffset).toBe('5');
    expect(config.startPositions?.[0]?.offset).toBe('18446744073709551615');
    expect(config.startTime).toBe(Date.UTC(2024, 0, 1));
    expect(kafkaSourceConfigSchema.parse({ topics: ['o'], startTime: 1_700_000_000_000 }).startTime).toBe(
      1_700_000_000_000,
    );
    expect(kafkaSourceConfigSchema.parse({ topics: ['o'], startTime: '1700000000000' }).startTime).toBe(
      1_700_000_000_000,
    );
    expect(kafkaSourceConfigSchema.safeParse({ topics: ['o'], startTime: 'yesterday' }).success).toBe(false);
    expect(kafkaSourceConfigSchema.safeParse({ topics: ['o'], startOffset: -1 }).success).toBe(false);
  });

  it('rejects unknown fields', () => {
    expect(kafkaSourceConfigSchema.safeParse({ topics: ['o'], topic: 'o' }).success).toBe(false);
  });

  it('takes brokers from TIDEMARK_KAFKA_BROKERS', () => {
    expect(defaultBrokers({ TIDEMARK_KAFKA_BROKERS: 'a:1, b:2' })).toEqual(['a:1', 'b:2']);
    expect(defaultBrokers({})).toEqual(['127.0.0.1:9092']);
  });

  it('declares the connector', () => {
    expect(kafkaSource.type).toBe('kafka');
    expect(kafkaSource.capabilities).toEqual({ replay: 'seek', exactlyOnce: true, bounded: false });
    expect(kafkaSource.provenance.map((column) => `${column.name}:${column.type}`)).toEqual([
      'kafka.topic:string',
      'kafka.partition:integer',
      'kafka.offset:bigint',
      'kafka.timestamp:timestamp',
    ]);
  });
});
