import { ConfigError, TidemarkError } from '@tidemark/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineSource } from '../define.js';
import { configJsonSchema, parseConnectorConfig } from './config.js';

const connector = defineSource({
  type: 'brokers',
  packageName: '@example/source-brokers',
  version: '1.0.0',
  description: 'test',
  configSchema: z
    .object({
      brokers: z.array(z.string().min(3)).min(1).describe('Bootstrap brokers, host:port.'),
      password: z.string().meta({ secret: true }).describe('SASL password.').optional(),
      start: z
        .enum(['earliest', 'latest'])
        .default('earliest')
        .describe('Where to start without a watermark.'),
      pollMs: z.number().int().positive().default(100).describe('Poll interval (ms).'),
    })
    .strict(),
  capabilities: { replay: 'seek', exactlyOnce: true, bounded: false },
  provenance: [],
  create: () => {
    throw new Error('not used');
  },
});

describe('configJsonSchema', () => {
  it('describes the input, with defaults, and marks secrets writeOnly and x-secret', () => {
    const schema = configJsonSchema(connector) as {
      properties: Record<string, Record<string, unknown>>;
      required: string[];
    };
    expect(schema.required).toEqual(['brokers']);
    expect(schema.properties.password).toMatchObject({
      writeOnly: true,
      'x-secret': true,
      description: 'SASL password.',
    });
    expect(schema.properties.password).not.toHaveProperty('secret');
    expect(schema.properties.brokers).not.toHaveProperty('writeOnly');
    expect(schema.properties.start).toMatchObject({ default: 'earliest', enum: ['earliest', 'latest'] });
  });
});

describe('parseConnectorConfig', () => {
  it('applies defaults', () => {
    expect(parseConnectorConfig(connector, { brokers: ['a:1'] }, 'sources[0]')).toEqual({
      brokers: ['a:1'],
      start: 'earliest',
      pollMs: 100,
    });
  });

  it('throws one ConfigError listing every issue with its path and what is allowed', () => {
    let caught: unknown;
    try {
      parseConnectorConfig(
        connector,
        { brokers: ['a:1', 'x'], start: 'middle', pollMs: 'fast', colour: 'red', password: 7 },
        'pipelines[0].sources[1]',
      );
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const error = caught as ConfigError;
    expect(TidemarkError.hasCode(error, 'CONFIG_INVALID')).toBe(true);
    expect(error.retriable).toBe(false);
    const byPath = Object.fromEntries(error.issues.map((issue) => [issue.path, issue.message]));
    expect(byPath).toEqual({
      'pipelines[0].sources[1].brokers[1]': 'expected string to have >=3 characters (got the string "x")',
      'pipelines[0].sources[1].start': "got the string \"middle\"; allowed: 'earliest', 'latest'",
      'pipelines[0].sources[1].pollMs': 'expected number, got the string "fast"',
      'pipelines[0].sources[1].password': 'expected string, got a secret value',
      'pipelines[0].sources[1].colour': "unknown option 'colour'; allowed: brokers, password, start, pollMs",
    });
    for (const path of Object.keys(byPath)) expect(error.message).toContain(path);
    expect(error.message).not.toContain('7');
  });

  it('reports a missing required field as missing', () => {
    expect(() => parseConnectorConfig(connector, undefined, 'sources[0]')).toThrow(
      'sources[0].brokers: required option missing: expected array',
    );
  });
});
