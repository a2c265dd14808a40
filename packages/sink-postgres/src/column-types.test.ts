import { describe, expect, it } from 'vitest';
import { type ColumnInfo, encodeValue, RawJson } from './column-types.js';

function column(type: string, extra: Partial<ColumnInfo> = {}): ColumnInfo {
  return { name: 'c', type, dataType: type, maxLength: null, nullable: true, hasDefault: false, ...extra };
}

describe('encodeValue', () => {
  it('checks integers by range and form', () => {
    expect(encodeValue(42, column('int4'))).toBe('42');
    expect(encodeValue('-7', column('int2'))).toBe('-7');
    expect(encodeValue('9223372036854775807', column('int8'))).toBe('9223372036854775807');
    expect(encodeValue(1.5, column('int4'))).toEqual({ rejected: expect.stringContaining('not an integer') });
    expect(encodeValue(40_000, column('int2'))).toEqual({
      rejected: expect.stringContaining('out of range'),
    });
    expect(encodeValue(true, column('int8'))).toEqual({
      rejected: expect.stringContaining('not an integer'),
    });
  });

  it('checks NOT NULL, text length in characters, NUL characters', () => {
    expect(encodeValue(null, column('text'))).toBeNull();
    expect(encodeValue(undefined, column('text', { nullable: false }))).toEqual({
      rejected: 'null for NOT NULL column c',
    });
    expect(encodeValue('ünï', column('varchar', { maxLength: 3 }))).toBe('ünï');
    expect(encodeValue('abcd', column('varchar', { maxLength: 3 }))).toEqual({
      rejected: expect.stringContaining('longer than 3 characters'),
    });
    expect(encodeValue('a\u0000b', column('text'))).toEqual({ rejected: expect.stringContaining('NUL') });
    expect(encodeValue({ a: 1 }, column('text'))).toBe('{"a":1}');
  });

  it('writes times, booleans, numbers, uuids, bytes and JSON', () => {
    expect(encodeValue(0, column('timestamptz'))).toBe('1970-01-01T00:00:00.000Z');
    expect(encodeValue('2026-01-02T03:04:05.123456Z', column('timestamptz'))).toBe(
      '2026-01-02T03:04:05.123456Z',
    );
    expect(encodeValue(86_400_000, column('date'))).toBe('1970-01-02');
    expect(encodeValue('yesterday-ish', column('timestamp'))).toEqual({
      rejected: expect.stringContaining('not a time'),
    });
    expect(encodeValue(true, column('bool'))).toBe('t');
    expect(encodeValue('1e3', column('numeric'))).toBe('1e3');
    expect(encodeValue('abc', column('float8'))).toEqual({
      rejected: expect.stringContaining('not a number'),
    });
    expect(encodeValue('123e4567-e89b-12d3-a456-426614174000', column('uuid'))).toBe(
      '123e4567-e89b-12d3-a456-426614174000',
    );
    expect(encodeValue('nope', column('uuid'))).toEqual({ rejected: expect.stringContaining('not a UUID') });
    expect(encodeValue(Buffer.from([1, 255]), column('bytea'))).toBe('\\x01ff');
    expect(encodeValue({ a: [1, 'x'] }, column('jsonb'))).toBe('{"a":[1,"x"]}');
    expect(encodeValue(new RawJson('{"big":12345678901234567890}'), column('jsonb'))).toBe(
      '{"big":12345678901234567890}',
    );
    expect(encodeValue('a\u0000', column('jsonb'))).toEqual({ rejected: expect.stringContaining('NUL') });
    expect(encodeValue('10.0.0.1', column('inet'))).toBe('10.0.0.1');
  });
});
