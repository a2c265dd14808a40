import { describe, expect, it } from 'vitest';
import { preparePostgresStatements } from './postgres-prepare.js';
import { encoderFor, PG_TYPES } from './postgres-values.js';

const encode = (oid: number, text: string, isArray = false) => JSON.parse(encoderFor(oid, isArray)(text));

describe('postgres values → JSON', () => {
  it('keeps every digit of bigint and numeric as strings', () => {
    expect(encode(PG_TYPES.int8, '9223372036854775807')).toBe('9223372036854775807');
    expect(encode(PG_TYPES.numeric, '12345678901234567890.000000001')).toBe('12345678901234567890.000000001');
    expect(encode(PG_TYPES.xid8, '123456789012')).toBe('123456789012');
  });

  it('maps small integers, floats and booleans to JSON scalars', () => {
    expect(encode(PG_TYPES.int4, '-42')).toBe(-42);
    expect(encode(PG_TYPES.float8, '0.1')).toBe(0.1);
    expect(encode(PG_TYPES.float8, 'NaN')).toBe('NaN');
    expect(encode(PG_TYPES.float4, '-Infinity')).toBe('-Infinity');
    expect(encode(PG_TYPES.bool, 't')).toBe(true);
    expect(encode(PG_TYPES.bool, 'f')).toBe(false);
  });

  it('writes timestamps as ISO 8601 with every fractional digit', () => {
    expect(encode(PG_TYPES.timestamptz, '2026-01-31 12:34:56.123456+00')).toBe('2026-01-31T12:34:56.123456Z');
    expect(encode(PG_TYPES.timestamptz, '2026-01-31 12:34:56+00')).toBe('2026-01-31T12:34:56Z');
    expect(encode(PG_TYPES.timestamptz, 'infinity')).toBe('infinity');
    expect(encode(PG_TYPES.timestamp, '2026-01-31 12:34:56.000001')).toBe('2026-01-31T12:34:56.000001');
  });

  it('writes bytea as base64 and embeds json, jsonb and arrays verbatim', () => {
    expect(encode(PG_TYPES.bytea, '\\x00ff10')).toBe('AP8Q');
    expect(encoderFor(PG_TYPES.jsonb, false)('{"n": 12345678901234567890}')).toBe(
      '{"n": 12345678901234567890}',
    );
    expect(encoderFor(1007, true)('[1,2,3]')).toBe('[1,2,3]');
  });

  it('writes text and unknown types as JSON strings', () => {
    expect(encode(25, 'a "quoted" é\n')).toBe('a "quoted" é\n');
    expect(encode(2950, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11')).toBe('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
  });
});

describe('postgres prepare SQL', () => {
  it('adds an xid8 column stamped by a trigger on insert and update, and a keyset index', () => {
    const statements = preparePostgresStatements({
      table: 'shop.orders',
      queryCol: 'tidemark_txid',
      tieBreakCol: 'id',
    } as never);
    expect(statements[0]).toBe(
      'ALTER TABLE "shop"."orders" ADD COLUMN IF NOT EXISTS "tidemark_txid" xid8 NOT NULL DEFAULT pg_current_xact_id()',
    );
    expect(statements[1]).toContain('NEW."tidemark_txid" := pg_current_xact_id()');
    expect(statements[2]).toContain('BEFORE INSERT OR UPDATE ON "shop"."orders" FOR EACH ROW');
    expect(statements[3]).toContain('ON "shop"."orders" ("tidemark_txid", "id")');
  });

  it('refuses a query source (nothing to alter)', () => {
    expect(() =>
      preparePostgresStatements({ query: 'SELECT 1', queryCol: 'q', tieBreakCol: 'id' } as never),
    ).toThrow(/needs `table`/);
  });
});
