/**
 * Checking and encoding one JavaScript value for one PostgreSQL column. Pure: no I/O.
 *
 * Every value is sent as text (INSERT parameters and COPY both use the text representation);
 * `encodeValue` returns that text, `null` for SQL NULL, or a {@link Rejection} naming why the
 * column would refuse the value. A rejection here is a poison record the runtime's poison
 * policy handles; the database checks we cannot see (CHECK constraints, triggers, foreign keys,
 * user-defined types) still apply at write time.
 */

/** A table column as read from information_schema at open. */
export interface ColumnInfo {
  readonly name: string;
  /** `udt_name`: int4, varchar, timestamptz, jsonb, … */
  readonly type: string;
  /** `data_type`: integer, character varying, ARRAY, USER-DEFINED, … (for messages). */
  readonly dataType: string;
  /** character_maximum_length for varchar(n) / char(n); null when unbounded. */
  readonly maxLength: number | null;
  readonly nullable: boolean;
  /** True when the column fills itself (a default, identity or generated column). */
  readonly hasDefault: boolean;
}

/** Why a value cannot go into a column. */
export interface Rejection {
  readonly rejected: string;
}

export type Encoded = string | null | Rejection;

/** JSON text already validated, written to a json/jsonb column as it is (keeps big numbers exact). */
export class RawJson {
  constructor(readonly text: string) {}
}

/** The families of column types values are checked against. */
export type TypeFamily =
  | 'integer'
  | 'numeric'
  | 'float'
  | 'boolean'
  | 'text'
  | 'json'
  | 'timestamp'
  | 'date'
  | 'uuid'
  | 'bytea'
  | 'other';

const FAMILIES: Readonly<Record<string, TypeFamily>> = {
  int2: 'integer',
  int4: 'integer',
  int8: 'integer',
  numeric: 'numeric',
  float4: 'float',
  float8: 'float',
  bool: 'boolean',
  text: 'text',
  varchar: 'text',
  bpchar: 'text',
  name: 'text',
  citext: 'text',
  json: 'json',
  jsonb: 'json',
  timestamptz: 'timestamp',
  timestamp: 'timestamp',
  date: 'date',
  uuid: 'uuid',
  bytea: 'bytea',
};

const INTEGER_RANGE: Readonly<Record<string, readonly [bigint, bigint]>> = {
  int2: [-32_768n, 32_767n],
  int4: [-2_147_483_648n, 2_147_483_647n],
  int8: [-9_223_372_036_854_775_808n, 9_223_372_036_854_775_807n],
};

/** The family of a column's `udt_name`. */
export function typeFamily(udtName: string): TypeFamily {
  return FAMILIES[udtName] ?? 'other';
}

export function isRejection(value: Encoded): value is Rejection {
  return typeof value === 'object' && value !== null;
}

const INTEGER_TEXT = /^[+-]?\d+$/;
const NUMERIC_TEXT = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const UUID_TEXT = /^\{?[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}\}?$/;

/**
 * Encodes `value` (a string, number, boolean, bigint, byte array, JSON object or array, null or
 * undefined) as the text `column` accepts. `rowtime` marks an epoch-millisecond number meant
 * as a time, so it is written as an ISO time into timestamp and date columns.
 */
export function encodeValue(value: unknown, column: ColumnInfo): Encoded {
  if (value === null || value === undefined) {
    return column.nullable ? null : reject(`null for NOT NULL column ${column.name}`);
  }
  const family = typeFamily(column.type);
  switch (family) {
    case 'integer':
      return encodeInteger(value, column);
    case 'numeric':
    case 'float':
      if (typeof value === 'number') {
        if (Number.isFinite(value) || family === 'float') return String(value);
        return reject(`${value} for numeric column ${column.name}`);
      }
      if (typeof value === 'bigint') return value.toString();
      if (typeof value === 'string' && NUMERIC_TEXT.test(value.trim())) return value.trim();
      return reject(`${describe(value)} is not a number (column ${column.name} is ${column.dataType})`);
    case 'boolean':
      if (typeof value === 'boolean') return value ? 't' : 'f';
      if (value === 'true' || value === 'false') return value === 'true' ? 't' : 'f';
      return reject(`${describe(value)} is not a boolean (column ${column.name})`);
    case 'text':
      return encodeText(value, column);
    case 'json': {
      const text = value instanceof RawJson ? value.text : jsonText(value);
      if (column.type === 'jsonb' && text.includes('\\u0000')) {
        return reject(`a NUL character (\\u0000) in a value for jsonb column ${column.name}`);
      }
      return text;
    }
    case 'timestamp':
    case 'date':
      return encodeTime(value, column, family);
    case 'uuid':
      if (typeof value === 'string' && UUID_TEXT.test(value)) return value;
      return reject(`${describe(value)} is not a UUID (column ${column.name})`);
    case 'bytea':
      if (value instanceof Uint8Array)
        return `\\x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`;
      if (typeof value === 'string') return `\\x${Buffer.from(value, 'utf8').toString('hex')}`;
      return reject(`${describe(value)} is not bytes (column ${column.name})`);
    case 'other':
      return plainText(value, column);
  }
}

const SAFE_RANGE: Readonly<Record<string, readonly [number, number]>> = {
  int2: [-32_768, 32_767],
  int4: [-2_147_483_648, 2_147_483_647],
  int8: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};

function encodeInteger(value: unknown, column: ColumnInfo): Encoded {
  if (typeof value === 'number' && Number.isSafeInteger(value)) {
    const [low, high] = SAFE_RANGE[column.type]!;
    if (value >= low && value <= high) return String(value);
  }
  let integer: bigint | undefined;
  if (typeof value === 'number' && Number.isInteger(value)) integer = BigInt(value);
  else if (typeof value === 'bigint') integer = value;
  else if (typeof value === 'string' && INTEGER_TEXT.test(value.trim())) integer = BigInt(value.trim());
  if (integer === undefined) {
    return reject(`${describe(value)} is not an integer (column ${column.name} is ${column.dataType})`);
  }
  const [low, high] = INTEGER_RANGE[column.type]!;
  if (integer < low || integer > high) {
    return reject(`${integer} is out of range for column ${column.name} (${column.dataType})`);
  }
  return integer.toString();
}

function encodeText(value: unknown, column: ColumnInfo): Encoded {
  const text =
    value instanceof RawJson
      ? value.text
      : typeof value === 'string'
        ? value
        : value instanceof Uint8Array
          ? new TextDecoder('utf-8', { fatal: false }).decode(value)
          : typeof value === 'object'
            ? JSON.stringify(value)
            : String(value);
  if (text.includes('\u0000')) return reject(`a NUL character in a value for text column ${column.name}`);
  if (column.maxLength !== null) {
    // The server counts characters (code points), not UTF-16 units or bytes.
    let length = 0;
    for (const _ of text) {
      length += 1;
      if (length > column.maxLength) {
        return reject(
          `a value longer than ${column.maxLength} characters for column ${column.name} (${column.dataType}(${column.maxLength}))`,
        );
      }
    }
  }
  return text;
}

function encodeTime(value: unknown, column: ColumnInfo, family: 'timestamp' | 'date'): Encoded {
  let time: number;
  if (typeof value === 'number') time = value;
  else if (typeof value === 'string') {
    time = Date.parse(value);
    // Keep the text as written (microseconds, time zones) once it is known to be a time.
    if (Number.isFinite(time)) return value;
  } else time = Number.NaN;
  if (!Number.isFinite(time) || Math.abs(time) > 8.64e15) {
    return reject(`${describe(value)} is not a time (column ${column.name} is ${column.dataType})`);
  }
  const iso = new Date(time).toISOString();
  return family === 'date' ? iso.slice(0, 10) : iso;
}

function plainText(value: unknown, column: ColumnInfo): Encoded {
  if (value instanceof RawJson) return value.text;
  const text =
    typeof value === 'string' ? value : typeof value === 'object' ? jsonText(value) : String(value);
  if (text.includes('\u0000')) return reject(`a NUL character in a value for column ${column.name}`);
  return text;
}

function jsonText(value: unknown): string {
  if (value instanceof Uint8Array) return JSON.stringify(Buffer.from(value).toString('utf8'));
  return JSON.stringify(value, (_, item: unknown) => (typeof item === 'bigint' ? item.toString() : item));
}

function describe(value: unknown): string {
  const text =
    typeof value === 'string'
      ? JSON.stringify(value)
      : typeof value === 'object'
        ? 'an object'
        : String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

function reject(reason: string): Rejection {
  return { rejected: reason };
}
