/**
 * The mapping from record fields to table columns, and turning one record into one row. Pure.
 *
 * A field is read from a record as a JavaScript value (see `readField`); `encodeRow` then
 * checks and encodes it for its column (column-types.ts). The JSON value of a record is parsed
 * at most once per row.
 */
import type { SinkRecord } from '@tidemark/sdk';
import {
  type ColumnInfo,
  type Encoded,
  encodeValue,
  isRejection,
  RawJson,
  type TypeFamily,
  typeFamily,
} from './column-types.js';
import type { PostgresSinkConfig } from './config.js';

export type FieldKind =
  | 'value'
  | 'value-path'
  | 'key'
  | 'header'
  | 'rowtime'
  | 'provenance'
  | 'provenance-column'
  | 'pipeline';

/** One mapped column: the table column and the record field it is filled from. */
export interface ColumnMapping {
  readonly column: string;
  /** The field as written in the configuration, e.g. `value.user.id`. */
  readonly field: string;
  readonly kind: FieldKind;
  /** Path segments (value-path), header name, or provenance column name. */
  readonly path: readonly string[];
  /** Type for `createTable`, when given. */
  readonly declaredType: string | undefined;
}

/** Parses the `columns` option into mappings (the schema has already checked the field syntax). */
export function compileMapping(columns: PostgresSinkConfig['columns']): ColumnMapping[] {
  return Object.entries(columns).map(([column, source]) => {
    const field = typeof source === 'string' ? source : source.from;
    const declaredType = typeof source === 'string' ? undefined : source.type;
    return { column, field, declaredType, ...parseField(field) };
  });
}

function parseField(field: string): { kind: FieldKind; path: string[] } {
  if (field === 'value') return { kind: 'value', path: [] };
  if (field.startsWith('value.')) return { kind: 'value-path', path: field.slice(6).split('.') };
  if (field === 'key') return { kind: 'key', path: [] };
  if (field.startsWith('headers.')) return { kind: 'header', path: [field.slice(8)] };
  if (field === 'rowtime') return { kind: 'rowtime', path: [] };
  if (field === 'provenance') return { kind: 'provenance', path: [] };
  if (field.startsWith('provenance.')) return { kind: 'provenance-column', path: [field.slice(11)] };
  return { kind: 'pipeline', path: [] };
}

/** The column type `createTable` uses for a mapping without a declared type. */
export function inferredType(mapping: ColumnMapping): string {
  if (mapping.declaredType !== undefined) return mapping.declaredType;
  switch (mapping.kind) {
    case 'value':
    case 'provenance':
      return 'jsonb';
    case 'rowtime':
      return 'timestamptz';
    default:
      return 'text';
  }
}

/** Column type families a field of fixed kind can never be written to, for the check at open. */
const INCOMPATIBLE: Partial<Record<FieldKind, readonly TypeFamily[]>> = {
  rowtime: ['boolean', 'uuid', 'bytea', 'json'],
  provenance: ['integer', 'numeric', 'float', 'boolean', 'timestamp', 'date', 'uuid', 'bytea', 'other'],
  pipeline: ['integer', 'numeric', 'float', 'boolean', 'timestamp', 'date', 'uuid', 'bytea'],
  key: ['boolean', 'timestamp', 'date'],
  value: ['boolean', 'timestamp', 'date'],
};

/**
 * Why `mapping`'s field can never fit `column`, or undefined when it may (value fields are
 * checked per record). rowtime fits int2/int4 only as a time, never as epoch milliseconds.
 */
export function typeMismatch(mapping: ColumnMapping, column: ColumnInfo): string | undefined {
  const family = typeFamily(column.type);
  const incompatible = INCOMPATIBLE[mapping.kind] ?? [];
  if (
    incompatible.includes(family) ||
    (mapping.kind === 'rowtime' && (column.type === 'int2' || column.type === 'int4'))
  ) {
    return `field ${mapping.field} cannot be written to column ${column.name} of type ${column.dataType}`;
  }
  return undefined;
}

/** What a record's fields are read against. */
export interface RowContext {
  /** `pipelineId` or `pipelineId/taskId`. */
  readonly pipeline: string;
}

const UNPARSED = Symbol('unparsed');
const INVALID = Symbol('invalid JSON');

/** Reads mapped fields of one record, parsing its JSON value at most once. */
export class FieldReader {
  #record: SinkRecord | null = null;
  #json: unknown = UNPARSED;
  readonly #context: RowContext;

  constructor(context: RowContext) {
    this.#context = context;
  }

  /** Points the reader at `record`. */
  reset(record: SinkRecord): void {
    this.#record = record;
    this.#json = UNPARSED;
  }

  /** The record's value parsed as JSON, or INVALID. */
  #parsed(): unknown {
    if (this.#json === UNPARSED) {
      const bytes = this.#record!.value;
      try {
        this.#json =
          bytes === null
            ? null
            : JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
      } catch {
        this.#json = INVALID;
      }
    }
    return this.#json;
  }

  /**
   * The field's value: bytes for `key` and a whole `value` into a text or bytea column, parsed
   * JSON for `value` into a JSON column, `undefined` for a missing path. Throws a string (the
   * reason) when a JSON field is asked of a value that is not JSON.
   */
  read(mapping: ColumnMapping, family: TypeFamily | 'json-out'): unknown {
    const record = this.#record!;
    switch (mapping.kind) {
      case 'value': {
        if (family !== 'json' && family !== 'json-out') return record.value;
        const parsed = this.#parsed();
        if (parsed === INVALID) throw 'the value is not valid JSON';
        if (family === 'json-out' || parsed === null) return parsed;
        const bytes = record.value!;
        return new RawJson(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
      }
      case 'value-path': {
        const parsed = this.#parsed();
        if (parsed === INVALID) throw 'the value is not valid JSON';
        let current: unknown = parsed;
        for (const segment of mapping.path) {
          if (typeof current !== 'object' || current === null) return undefined;
          current = (current as Record<string, unknown>)[segment];
        }
        return current;
      }
      case 'key':
        return record.key === null
          ? null
          : family === 'bytea'
            ? record.key
            : Buffer.from(record.key).toString('utf8');
      case 'header':
        return record.headers[mapping.path[0]!];
      case 'rowtime':
        return record.rowtime;
      case 'provenance':
        return { pipeline: this.#context.pipeline, ...record.provenance };
      case 'provenance-column':
        return record.provenance[mapping.path[0]!];
      case 'pipeline':
        return this.#context.pipeline;
    }
  }
}

/** A mapping bound to the table column it writes. */
export interface BoundColumn {
  readonly mapping: ColumnMapping;
  readonly column: ColumnInfo;
  readonly family: TypeFamily;
}

export function bindColumns(
  mappings: readonly ColumnMapping[],
  columns: ReadonlyMap<string, ColumnInfo>,
): BoundColumn[] {
  return mappings.map((mapping) => {
    const column = columns.get(mapping.column)!;
    return { mapping, column, family: typeFamily(column.type) };
  });
}

const UDT_OF_DECLARED: Readonly<Record<string, string>> = {
  smallint: 'int2',
  integer: 'int4',
  bigint: 'int8',
  real: 'float4',
  'double precision': 'float8',
  boolean: 'bool',
};

/**
 * Columns as far as the configuration tells before the table was read (an unopened sink): a
 * declared `type` is checked, anything else is accepted as text. Nullable, unbounded.
 */
export function declaredColumns(mappings: readonly ColumnMapping[]): BoundColumn[] {
  return mappings.map((mapping) => {
    const declared = mapping.declaredType ?? 'unknown';
    const type = UDT_OF_DECLARED[declared] ?? declared;
    const column: ColumnInfo = {
      name: mapping.column,
      type,
      dataType: declared,
      maxLength: null,
      nullable: true,
      hasDefault: false,
    };
    return { mapping, column, family: typeFamily(type) };
  });
}

/** One encoded row, or the reason the record cannot be written. */
export type EncodedRow = { readonly values: (string | null)[] } | { readonly rejected: string };

/** Encodes the record the reader points at into one row of text values. */
export function encodeRow(reader: FieldReader, columns: readonly BoundColumn[]): EncodedRow {
  const values: (string | null)[] = new Array(columns.length);
  for (let index = 0; index < columns.length; index += 1) {
    const bound = columns[index]!;
    let raw: unknown;
    try {
      raw = reader.read(bound.mapping, bound.family);
    } catch (reason) {
      return { rejected: `${String(reason)} (column ${bound.column.name} reads ${bound.mapping.field})` };
    }
    const encoded: Encoded = encodeValue(raw, bound.column);
    if (isRejection(encoded)) return { rejected: encoded.rejected };
    values[index] = encoded;
  }
  return { values };
}

/**
 * The record as one JSON object for a procedure: each mapped name with its field's value
 * (value fields as parsed JSON, key as text, rowtime as epoch ms). Returns the reason for a
 * record whose value is not JSON while a value field is mapped.
 */
export function procedureRow(
  reader: FieldReader,
  mappings: readonly ColumnMapping[],
): { readonly object: Record<string, unknown> } | { readonly rejected: string } {
  const row: Record<string, unknown> = {};
  for (const mapping of mappings) {
    try {
      const raw = reader.read(mapping, 'json-out');
      row[mapping.column] = raw instanceof Uint8Array ? Buffer.from(raw).toString('utf8') : (raw ?? null);
    } catch (reason) {
      return { rejected: `${String(reason)} (${mapping.column} reads ${mapping.field})` };
    }
  }
  return { object: row };
}
