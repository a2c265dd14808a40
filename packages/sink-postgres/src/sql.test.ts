import { describe, expect, it } from 'vitest';
import { copyLine, copyStatement, insertStatement, qualified, quoteIdentifier } from './sql.js';

describe('sql text', () => {
  it('quotes identifiers', () => {
    expect(quoteIdentifier('we"ird')).toBe('"we""ird"');
    expect(qualified('public', 'events')).toBe('"public"."events"');
  });

  it('builds multi-row inserts and upserts', () => {
    expect(insertStatement('t', ['a', 'b'], 2)).toBe('INSERT INTO t ("a","b") VALUES ($1,$2),($3,$4)');
    expect(insertStatement('t', ['id', 'b'], 1, ['id'])).toBe(
      'INSERT INTO t ("id","b") VALUES ($1,$2) ON CONFLICT ("id") DO UPDATE SET "b" = EXCLUDED."b"',
    );
    expect(insertStatement('t', ['id'], 1, ['id'])).toBe(
      'INSERT INTO t ("id") VALUES ($1) ON CONFLICT ("id") DO NOTHING',
    );
    expect(copyStatement('t', ['a'])).toBe('COPY t ("a") FROM STDIN');
  });

  it('escapes COPY text format', () => {
    expect(copyLine(['a\tb', null, 'x\\y\nz\r', ''])).toBe('a\\tb\t\\N\tx\\\\y\\nz\\r\t\n');
  });
});
