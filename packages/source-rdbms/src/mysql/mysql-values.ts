import { isoDateTime, jsonFloat, jsonString } from '../json-text.js';

/**
 * MySQL / MariaDB column values → JSON, without loss. Rows are read over the text protocol
 * with session time_zone '+00:00'; the encoders turn each value (text, or bytes for binary
 * columns) into JSON text by the column's type.
 *
 * | MySQL type | JSON |
 * | --- | --- |
 * | TINYINT, SMALLINT, MEDIUMINT, INT, YEAR | number |
 * | BIGINT, DECIMAL | string (every digit) |
 * | FLOAT, DOUBLE | number |
 * | TIMESTAMP | ISO 8601 UTC string with every fractional digit (`2026-01-31T12:00:00.123456Z`) |
 * | DATETIME | ISO 8601 string without zone (`2026-01-31T12:00:00.123456`) |
 * | DATE, TIME, CHAR, VARCHAR, TEXT, ENUM, SET | string |
 * | JSON (MySQL type, MariaDB json format) | embedded as is |
 * | BINARY, VARBINARY, BLOB, BIT, GEOMETRY | base64 string |
 *
 * Zero dates (`0000-00-00 …`) stay as the server's text.
 */
export type MysqlValueKind =
  | 'number'
  | 'digits'
  | 'float'
  | 'timestamp'
  | 'datetime'
  | 'json'
  | 'bytes'
  | 'text';

const BINARY_CHARSET = 63;

const KIND_BY_TYPE: Readonly<Record<string, MysqlValueKind>> = {
  TINY: 'number',
  SHORT: 'number',
  LONG: 'number',
  INT24: 'number',
  YEAR: 'number',
  LONGLONG: 'digits',
  DECIMAL: 'digits',
  NEWDECIMAL: 'digits',
  FLOAT: 'float',
  DOUBLE: 'float',
  TIMESTAMP: 'timestamp',
  TIMESTAMP2: 'timestamp',
  DATETIME: 'datetime',
  DATETIME2: 'datetime',
  JSON: 'json',
  BIT: 'bytes',
  GEOMETRY: 'bytes',
};

const STRING_TYPES = new Set([
  'VARCHAR',
  'VAR_STRING',
  'STRING',
  'BLOB',
  'TINY_BLOB',
  'MEDIUM_BLOB',
  'LONG_BLOB',
]);

/** The kind of a column from its type name, character set and (MariaDB) extended format. */
export function mysqlValueKind(
  type: string,
  characterSet: number | undefined,
  extendedFormat?: string,
): MysqlValueKind {
  if (extendedFormat === 'json') return 'json';
  if (STRING_TYPES.has(type)) return characterSet === BINARY_CHARSET ? 'bytes' : 'text';
  return KIND_BY_TYPE[type] ?? 'text';
}

/** Encodes one non-null value: `text` for every kind but bytes, which gets the raw `bytes`. */
export function encodeMysqlValue(kind: MysqlValueKind, text: string, bytes?: Buffer): string {
  switch (kind) {
    case 'number':
      return text;
    case 'float':
      return jsonFloat(text);
    case 'json':
      return text;
    case 'timestamp':
      return jsonString(text.startsWith('0000') ? text : `${isoDateTime(text)}Z`);
    case 'datetime':
      return jsonString(isoDateTime(text));
    case 'bytes':
      return jsonString((bytes ?? Buffer.from(text, 'latin1')).toString('base64'));
    default:
      return jsonString(text);
  }
}
