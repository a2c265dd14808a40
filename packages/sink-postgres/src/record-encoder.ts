/**
 * Turns records into what the row writer sends: a row of text values for a table, a JSON
 * object for a procedure, a dead-letter row. Pure: no I/O; bound to the columns read at open.
 */
import type { SinkRecord } from '@tidemark/sdk';
import {
  type BoundColumn,
  type ColumnMapping,
  encodeRow,
  type FieldReader,
  procedureRow,
} from './mapping.js';

/** A record ready to send, or (as a string) the reason it cannot be written. */
export type EncodedRecord =
  | { readonly kind: 'row'; readonly values: (string | null)[] }
  | { readonly kind: 'object'; readonly object: Record<string, unknown> }
  | string;

/** Header the runtime puts the poison reason in on dead-lettered records. */
const ERROR_HEADER = 'tidemark.error';
/** Header the runtime puts the source name in on dead-lettered records. */
const SOURCE_HEADER = 'tidemark.source';

export class RecordEncoder {
  readonly #reader: FieldReader;
  readonly #columns: readonly BoundColumn[];
  readonly #procedureMappings: readonly ColumnMapping[] | null;
  readonly #pipeline: string;
  /** Encodings of records `check` accepted, until `encode` takes them. */
  readonly #checked = new WeakMap<SinkRecord, Exclude<EncodedRecord, string>>();

  /**
   * `columns` are the table columns the mapping writes; `procedureMappings` is set instead
   * (and `columns` empty) when rows go to a procedure.
   */
  constructor(
    reader: FieldReader,
    columns: readonly BoundColumn[],
    procedureMappings: readonly ColumnMapping[] | null,
    pipeline: string,
  ) {
    this.#reader = reader;
    this.#columns = columns;
    this.#procedureMappings = procedureMappings;
    this.#pipeline = pipeline;
  }

  encode(record: SinkRecord): EncodedRecord {
    const checked = this.#checked.get(record);
    if (checked !== undefined) {
      this.#checked.delete(record);
      return checked;
    }
    this.#reader.reset(record);
    if (this.#procedureMappings) {
      const result = procedureRow(this.#reader, this.#procedureMappings);
      return 'rejected' in result ? result.rejected : { kind: 'object', object: result.object };
    }
    const row = encodeRow(this.#reader, this.#columns);
    return 'rejected' in row ? row.rejected : { kind: 'row', values: row.values };
  }

  /** The reason `record` cannot be written, or undefined when it can. */
  check(record: SinkRecord): string | undefined {
    const encoded = this.encode(record);
    if (typeof encoded === 'string') return encoded;
    // The runtime checks a batch right before writing it: `encode` then reuses this work.
    this.#checked.set(record, encoded);
    return undefined;
  }

  /** The dead-letter table row of `record` (columns of DEAD_LETTER_COLUMNS). */
  deadLetterRow(record: SinkRecord): (string | null)[] {
    const error = record.headers[ERROR_HEADER] ?? record.poison ?? null;
    return [
      record.headers['tidemark.pipeline'] ?? this.#pipeline,
      record.headers[SOURCE_HEADER] ?? null,
      error === null ? null : error.replaceAll('\u0000', ''),
      Number.isFinite(record.rowtime) ? new Date(record.rowtime).toISOString() : null,
      jsonWithoutNul(record.provenance),
      jsonWithoutNul(record.headers),
      record.key === null ? null : hex(record.key),
      record.value === null ? null : hex(record.value),
    ];
  }
}

function hex(bytes: Uint8Array): string {
  return `\\x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')}`;
}

/** jsonb refuses \u0000: drop it from the dead letter's metadata rather than lose the record. */
function jsonWithoutNul(value: unknown): string {
  return JSON.stringify(value).replaceAll('\\u0000', '');
}
