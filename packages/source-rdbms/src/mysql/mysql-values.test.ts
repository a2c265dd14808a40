import { describe, expect, it } from 'vitest';
import { mysqlTimestampText } from './mysql-dialect.js';
import { prepareMysqlStatements } from './mysql-prepare.js';
import { encodeMysqlValue, mysqlValueKind } from './mysql-values.js';

const encode = (type: string, text: string, characterSet = 45, format?: string) =>
  JSON.parse(encodeMysqlValue(mysqlValueKind(type, characterSet, format), text, Buffer.from(text, 'latin1')));

describe('mysql values → JSON', () => {
  it('keeps every digit of BIGINT and DECIMAL as strings', () => {
    expect(encode('LONGLONG', '18446744073709551615')).toBe('18446744073709551615');
    expect(encode('NEWDECIMAL', '12345678901234567890.123456789')).toBe('12345678901234567890.123456789');
  });

  it('maps small integers and floats to numbers', () => {
    expect(encode('LONG', '-42')).toBe(-42);
    expect(encode('TINY', '1')).toBe(1);
    expect(encode('DOUBLE', '0.1')).toBe(0.1);
  });

  it('writes TIMESTAMP as UTC ISO 8601 and DATETIME without a zone, every fractional digit kept', () => {
    expect(encode('TIMESTAMP', '2026-01-31 12:34:56.123456')).toBe('2026-01-31T12:34:56.123456Z');
    expect(encode('DATETIME', '2026-01-31 12:34:56.000001')).toBe('2026-01-31T12:34:56.000001');
    expect(encode('TIMESTAMP', '0000-00-00 00:00:00')).toBe('0000-00-00 00:00:00');
    expect(encode('DATE', '2026-01-31')).toBe('2026-01-31');
  });

  it('writes binary strings, BLOB and BIT as base64, text as strings, JSON verbatim', () => {
    expect(encodeMysqlValue('bytes', '', Buffer.from([0, 255, 16]))).toBe('"AP8Q"');
    expect(mysqlValueKind('BLOB', 63)).toBe('bytes');
    expect(mysqlValueKind('BLOB', 45)).toBe('text');
    expect(mysqlValueKind('BIT', 63)).toBe('bytes');
    expect(encode('VAR_STRING', 'é "x"')).toBe('é "x"');
    expect(encodeMysqlValue(mysqlValueKind('BLOB', 45, 'json'), '{"n": 12345678901234567890}')).toBe(
      '{"n": 12345678901234567890}',
    );
  });

  it('formats a time as the session text of a UTC TIMESTAMP(6)', () => {
    expect(mysqlTimestampText(Date.UTC(2026, 0, 31, 12, 0, 0, 5))).toBe('2026-01-31 12:00:00.005000');
  });
});

describe('mysql prepare SQL', () => {
  it('adds a server-stamped TIMESTAMP(6) column and a keyset index', () => {
    const statements = prepareMysqlStatements({
      table: 'orders',
      queryCol: 'tidemark_changed_at',
      tieBreakCol: 'id',
    } as never);
    expect(statements[0]).toBe(
      'ALTER TABLE `orders` ADD COLUMN IF NOT EXISTS `tidemark_changed_at` TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)',
    );
    expect(statements[1]).toContain('ON `orders` (`tidemark_changed_at`, `id`)');
  });
});
