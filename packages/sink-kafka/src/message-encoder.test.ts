import type { SinkRecord } from '@tidemark/sdk';
import { describe, expect, it } from 'vitest';
import { parseKafkaSinkConfig } from './config.js';
import {
  BATCH_OVERHEAD_BYTES,
  COMPACT_PROVENANCE_HEADER,
  MessageEncoder,
  ORIGINAL_BYTES_HEADER,
  PROVENANCE_HEADER,
  provenanceCompact,
} from './message-encoder.js';

const record = (value: string, overrides: Partial<SinkRecord> = {}): SinkRecord => ({
  key: null,
  value: Buffer.from(value),
  headers: {},
  rowtime: 1_700_000_000_000,
  provenance: { 'file.path': '/data/a.log', 'file.line': 3 },
  position: { unit: 'lane/0', next: 1 },
  ...overrides,
});

function encoder(limit: number): MessageEncoder {
  const encoding = new MessageEncoder(parseKafkaSinkConfig({ topic: 'out', deadLetterTopic: 'dead' }));
  encoding.forPipeline({ pipelineId: 'p' });
  encoding.limitMessages(
    { bytes: limit, setting: "max.message.bytes of topic 'out'" },
    { bytes: limit, setting: "max.message.bytes of topic 'dead'" },
  );
  return encoding;
}

describe('MessageEncoder limits', () => {
  it('flags a record that cannot fit the topic, naming it by provenance and the setting to change', () => {
    const encoding = encoder(70_000);
    const flagged = encoding.check([record('small'), record('x'.repeat(80_000))]);
    expect([...flagged.keys()]).toEqual([1]);
    const error = flagged.get(1)!;
    expect(error.message).toContain('file.path=/data/a.log file.line=3');
    expect(error.message).toContain("max.message.bytes of topic 'out'");
    expect(error.fix).toContain('maxLineBytes');
  });

  it('flags a rowtime that is no Kafka timestamp, and never a dead letter', () => {
    const encoding = encoder(1_048_588);
    const flagged = encoding.check([
      record('a', { rowtime: 1.7e18 }),
      record('b', { rowtime: 1e300 }),
      record('c', { rowtime: Number.NaN }),
      record('d'),
      record('e', { rowtime: 1e300, route: 'dead-letter', poison: 'bad' }),
    ]);
    expect([...flagged.keys()]).toEqual([0, 1, 2]);
    expect(flagged.get(0)!.message).toContain('no Kafka timestamp');
    expect(
      encoding.encode(record('e', { rowtime: 1e300, route: 'dead-letter', poison: 'bad' })).timestamp,
    ).toBeUndefined();
  });

  it('cuts a dead letter to fit, with its original length in a header', () => {
    const encoding = encoder(70_000);
    const message = encoding.encode(
      record('y'.repeat(200_000), { route: 'dead-letter', poison: 'too long' }),
    );
    expect(message.headers?.[ORIGINAL_BYTES_HEADER]).toBe('200000');
    expect(encoding.encodedBytes).toBeLessThanOrEqual(70_000 - BATCH_OVERHEAD_BYTES);
    expect((message.value as Buffer).length).toBeGreaterThan(60_000);
  });
});

function recordWith(provenance: SinkRecord['provenance']): SinkRecord {
  return {
    key: null,
    value: Buffer.from('v'),
    headers: {},
    rowtime: 5,
    provenance,
    position: { unit: 'u', next: 1 },
  };
}

describe('provenanceCompact', () => {
  it('writes the values tab-separated in column order, without names', () => {
    expect(provenanceCompact({ 'file.path': '/data/in.log', 'file.position': 1042, 'file.line': 17 })).toBe(
      '/data/in.log\t1042\t17',
    );
  });

  it('quotes a string holding a separator or starting with a quote, and leaves null empty', () => {
    expect(provenanceCompact({ a: 'x\ty', b: null, c: '"q', d: 'back\\slash', e: true })).toBe(
      '"x\\ty"\t\t"\\"q"\t"back\\\\slash"\ttrue',
    );
  });
});

describe('MessageEncoder provenance headers', () => {
  const identity = { pipelineId: 'orders' };

  it('json: the pipeline and every column, the same whatever was encoded before', () => {
    const encoder = new MessageEncoder(parseKafkaSinkConfig({ topic: 't', provenanceHeaders: 'json' }));
    encoder.forPipeline(identity);
    encoder.encode(recordWith({ 'file.path': '/a', 'file.line': 1 }));
    const message = encoder.encode(recordWith({ 'file.path': '/a', 'file.line': 2, extra: 'x"y' }));
    expect(JSON.parse(message.headers[PROVENANCE_HEADER]!)).toEqual({
      pipeline: 'orders',
      'file.path': '/a',
      'file.line': 2,
      extra: 'x"y',
    });
    const other = encoder.encode(recordWith({ 'file.path': '/b', 'file.line': 3 }));
    expect(JSON.parse(other.headers[PROVENANCE_HEADER]!)['file.path']).toBe('/b');
  });

  it('compact: one tidemark.p header', () => {
    const encoder = new MessageEncoder(parseKafkaSinkConfig({ topic: 't', provenanceHeaders: 'compact' }));
    encoder.forPipeline(identity);
    const message = encoder.encode(recordWith({ 'file.path': '/a', 'file.line': 2 }));
    expect(message.headers).toEqual({ [COMPACT_PROVENANCE_HEADER]: '/a\t2' });
  });
});
