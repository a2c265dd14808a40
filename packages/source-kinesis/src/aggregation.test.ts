import { describe, expect, it } from 'vitest';
import { deaggregate, KPL_MAGIC } from './aggregation.js';
import { aggregate, frame } from './test-support/kpl.js';

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');

describe('deaggregate', () => {
  it('splits an aggregated record into its user records, in order, with their partition keys', () => {
    const record = aggregate([
      { partitionKey: 'a', data: 'one' },
      { partitionKey: 'b', data: 'two' },
      { partitionKey: 'a', data: 'three' },
    ]);
    const result = deaggregate(record);
    expect(result.kind).toBe('aggregated');
    if (result.kind !== 'aggregated') return;
    expect(result.records.map((user) => [user.partitionKey, text(user.data)])).toEqual([
      ['a', 'one'],
      ['b', 'two'],
      ['a', 'three'],
    ]);
    expect(result.records.every((user) => user.explicitHashKey === undefined)).toBe(true);
  });

  it('keeps large payloads intact (multi-byte length varints)', () => {
    const payload = Buffer.alloc(70_000, 7);
    const result = deaggregate(aggregate([{ partitionKey: 'k', data: payload }]));
    expect(result.kind === 'aggregated' && Buffer.from(result.records[0]!.data).equals(payload)).toBe(true);
  });

  it('reads explicit hash keys and skips unknown fields such as tags', () => {
    const user = Buffer.concat([
      Buffer.from([0x08, 0x00, 0x10, 0x00]),
      Buffer.from([0x1a, 0x02]),
      Buffer.from('hi'),
      Buffer.from([0x22, 0x03, 0x0a, 0x01, 0x74]),
    ]);
    const protobuf = Buffer.concat([
      Buffer.from([0x0a, 0x01]),
      Buffer.from('p'),
      Buffer.from([0x12, 0x02]),
      Buffer.from('42'),
      Buffer.from([0x1a, user.length]),
      user,
    ]);
    const record = frame(protobuf);
    const result = deaggregate(record);
    expect(result).toEqual({
      kind: 'aggregated',
      records: [{ partitionKey: 'p', explicitHashKey: '42', data: expect.anything() }],
    });
    expect(result.kind === 'aggregated' && text(result.records[0]!.data)).toBe('hi');
  });

  it('treats data without the magic, or with a digest that does not match, as a plain record', () => {
    expect(deaggregate(Buffer.from('{"id":1}'))).toEqual({ kind: 'plain' });
    const record = aggregate([{ partitionKey: 'a', data: 'x' }]);
    record[record.length - 1] = (record[record.length - 1]! + 1) % 256;
    expect(deaggregate(record)).toEqual({ kind: 'plain' });
    expect(deaggregate(Buffer.from(KPL_MAGIC))).toEqual({ kind: 'plain' });
  });

  it('reports a record whose digest matches but whose protobuf is malformed as invalid', () => {
    const protobuf = Buffer.from([0x1a, 0x05, 0x08]);
    const record = frame(protobuf);
    const result = deaggregate(record);
    expect(result.kind).toBe('invalid');
  });

  it('reports a user record naming a partition key outside the table as invalid', () => {
    const user = Buffer.concat([Buffer.from([0x08, 0x05, 0x1a, 0x01]), Buffer.from('x')]);
    const protobuf = Buffer.concat([
      Buffer.from([0x0a, 0x01]),
      Buffer.from('p'),
      Buffer.from([0x1a, user.length]),
      user,
    ]);
    const record = frame(protobuf);
    const result = deaggregate(record);
    expect(result.kind === 'invalid' && result.reason).toMatch(/partition key 5/);
  });
});
