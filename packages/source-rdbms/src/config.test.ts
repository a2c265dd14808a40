import { parseConnectorConfig } from '@tidemark/sdk';
import { describe, expect, it } from 'vitest';
import { dialectOfUrl, resolveConfig } from './config.js';
import rdbmsSource from './index.js';
import { decodePosition, encodePosition } from './position.js';

describe('rdbms config', () => {
  it('infers the dialect from the scheme and defaults queryCol per dialect', () => {
    expect(dialectOfUrl('postgresql://h/db')).toBe('postgres');
    expect(dialectOfUrl('mariadb://h/db')).toBe('mysql');
    expect(dialectOfUrl('sqlite:x')).toBeUndefined();
    const postgres = parseConnectorConfig(
      rdbmsSource,
      { connectionString: 'postgres://h/db', table: 't' },
      's',
    );
    expect(resolveConfig(postgres as never)).toMatchObject({
      dialect: 'postgres',
      queryCol: 'tidemark_txid',
    });
    const mysql = parseConnectorConfig(rdbmsSource, { connectionString: 'mysql://h/db', table: 't' }, 's');
    expect(resolveConfig(mysql as never)).toMatchObject({
      dialect: 'mysql',
      queryCol: 'tidemark_changed_at',
    });
  });

  it('needs exactly one of table and query, and a known dialect', () => {
    expect(() => parseConnectorConfig(rdbmsSource, { connectionString: 'postgres://h/db' }, 's')).toThrow(
      /table/,
    );
    expect(() =>
      parseConnectorConfig(rdbmsSource, { connectionString: 'postgres://h/db', table: 't', query: 'q' }, 's'),
    ).toThrow(/exactly one/);
    expect(() =>
      parseConnectorConfig(rdbmsSource, { connectionString: 'db2://h/db', table: 't' }, 's'),
    ).toThrow(/dialect/);
  });
});

describe('rdbms positions', () => {
  it('round-trip through the watermark and reject anything else', () => {
    const position = { queryValue: '123', tieBreak: '42' };
    expect(decodePosition(JSON.parse(JSON.stringify(encodePosition(position))))).toEqual(position);
    expect(decodePosition({ q: '5', k: null })).toEqual({ queryValue: '5', tieBreak: null });
    expect(() => decodePosition('123')).toThrow(/not \{q, k\}/);
  });
});
