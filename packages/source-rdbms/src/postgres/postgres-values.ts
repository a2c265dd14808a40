import { isoDateTime, jsonFloat, jsonString } from '../json-text.js';

/**
 * PostgreSQL column values → JSON, without loss. The connection returns every value as the
 * server's text (session settings TimeZone=UTC, DateStyle=ISO, IntervalStyle=iso_8601,
 * bytea_output=hex); these encoders turn that text into JSON text by type OID.
 *
 * | PostgreSQL type | JSON |
 * | --- | --- |
 * | smallint, integer, oid | number |
 * | bigint, numeric, xid, xid8, money | string (every digit) |
 * | real, double precision | number (NaN, ±Infinity as strings) |
 * | boolean | true / false |
 * | json, jsonb, arrays (via to_json) | embedded as is |
 * | bytea | base64 string |
 * | timestamptz | ISO 8601 UTC string with every fractional digit (`2026-01-31T12:00:00.123456Z`) |
 * | timestamp | ISO 8601 string without zone (`2026-01-31T12:00:00.123456`) |
 * | date, time, timetz, interval (ISO 8601), uuid, text, enums, anything else | string |
 */
export type PostgresEncoder = (text: string) => string;

export const PG_TYPES = {
  bool: 16,
  bytea: 17,
  int8: 20,
  int2: 21,
  int4: 23,
  oid: 26,
  json: 114,
  float4: 700,
  float8: 701,
  timestamp: 1114,
  timestamptz: 1184,
  numeric: 1700,
  jsonb: 3802,
  xid8: 5069,
} as const;

const asString: PostgresEncoder = jsonString;
const asNumber: PostgresEncoder = (text) => text;
const asRaw: PostgresEncoder = (text) => text;

export function encodeBytea(text: string): string {
  const hex = text.startsWith('\\x') ? text.slice(2) : text;
  return jsonString(Buffer.from(hex, 'hex').toString('base64'));
}

/** `2026-01-31 12:00:00.5+00` (TimeZone=UTC) → `2026-01-31T12:00:00.5Z`; infinity and BC dates stay text. */
export function encodeTimestamptz(text: string): string {
  const match = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?)\+00$/.exec(text);
  return jsonString(match ? `${match[1]}T${match[2]}Z` : text);
}

const ENCODERS: ReadonlyMap<number, PostgresEncoder> = new Map<number, PostgresEncoder>([
  [PG_TYPES.bool, (text) => (text === 't' ? 'true' : 'false')],
  [PG_TYPES.bytea, encodeBytea],
  [PG_TYPES.int2, asNumber],
  [PG_TYPES.int4, asNumber],
  [PG_TYPES.oid, asNumber],
  [PG_TYPES.int8, asString],
  [PG_TYPES.numeric, asString],
  [PG_TYPES.float4, jsonFloat],
  [PG_TYPES.float8, jsonFloat],
  [PG_TYPES.json, asRaw],
  [PG_TYPES.jsonb, asRaw],
  [PG_TYPES.timestamptz, encodeTimestamptz],
  [PG_TYPES.timestamp, (text) => jsonString(isoDateTime(text))],
]);

/** The encoder of a column: arrays are selected through to_json and embedded as is. */
export function encoderFor(typeOid: number, isArray: boolean): PostgresEncoder {
  if (isArray) return asRaw;
  return ENCODERS.get(typeOid) ?? asString;
}

/** Every value as the server's text: the pg client's per-query type parsers. */
export const RAW_TEXT_TYPES = {
  getTypeParser: () => (value: string) => value,
};
