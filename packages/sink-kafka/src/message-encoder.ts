import { isUtf8 } from 'node:buffer';
import {
  ERROR_HEADER,
  identityName,
  isSaneRowtime,
  PIPELINE_HEADER,
  type PipelineIdentity,
  PoisonRecordError,
  type SinkRecord,
} from '@tidemark/sdk';
import type { KafkaSinkConfig } from './config.js';
import type { OutgoingMessage } from './kafka-client.js';
import { DEFAULT_MESSAGE_MAX_BYTES, type MessageLimit } from './message-limit.js';

/** The single provenance header of `provenanceHeaders: 'json'`. */
export const PROVENANCE_HEADER = 'tidemark.provenance';
/** The single provenance header of `provenanceHeaders: 'compact'`. */
export const COMPACT_PROVENANCE_HEADER = 'tidemark.p';
/** Prefix of the provenance headers: `tidemark.<column>`. */
export const PROVENANCE_HEADER_PREFIX = 'tidemark.';

const NO_POISON: ReadonlyMap<number, PoisonRecordError> = new Map();
const EMPTY_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;
/** Upper bound of the framing of one record in a record batch (varints, attributes, deltas). */
const MESSAGE_OVERHEAD_BYTES = 41;
/** Upper bound of the framing of one header of a record (two varint lengths). */
const HEADER_OVERHEAD_BYTES = 10;
/** The header of a record batch, counted once against the broker's limit. */
export const BATCH_OVERHEAD_BYTES = 61;
/** Header of a dead letter cut to fit the topic's limit: the length of its value before the cut. */
export const ORIGINAL_BYTES_HEADER = 'tidemark.original-bytes';
/** Key and value sizes below the limit minus this never need the exact size check. */
const HEADER_ALLOWANCE_BYTES = 64 * 1024;

/**
 * Turns records into Kafka messages for one sink: key and value per `keyFormat` /
 * `valueFormat`, headers per `provenanceHeaders`, the timestamp per `timestamp`. Pure apart
 * from small caches; the hot path builds one headers object and one string per record.
 */
export class MessageEncoder {
  readonly #config: KafkaSinkConfig;
  readonly #headerNames = new Map<string, string>();
  /** `,"<column>":` per column, and the JSON of the last string value seen per column. */
  readonly #jsonKeys = new Map<string, string>();
  readonly #lastStrings = new Map<string, { value: string; json: string }>();
  #pipelineHeader = '';
  #pipelineJsonPrefix = '{';
  #encodedBytes = 0;
  #mainLimit: MessageLimit = {
    bytes: DEFAULT_MESSAGE_MAX_BYTES,
    setting: "the broker's default message.max.bytes",
  };
  #deadLetterLimit: MessageLimit = this.#mainLimit;

  constructor(config: KafkaSinkConfig) {
    this.#config = config;
  }

  /** Sets the largest record batch the main and the dead-letter topic accept (at open). */
  limitMessages(main: MessageLimit, deadLetter: MessageLimit): void {
    this.#mainLimit = main;
    this.#deadLetterLimit = deadLetter;
  }

  /** Bytes of messages one send may hold: the smaller topic limit less the batch framing. */
  get batchLimitBytes(): number {
    return Math.min(this.#mainLimit.bytes, this.#deadLetterLimit.bytes) - BATCH_OVERHEAD_BYTES;
  }

  /** Names `identity` in the provenance headers of what is encoded from now on (at open). */
  forPipeline(identity: PipelineIdentity): void {
    this.#pipelineHeader = identityName(identity);
    this.#pipelineJsonPrefix = `{"pipeline":${JSON.stringify(this.#pipelineHeader)}`;
  }

  /** Bytes of the last encoded message in a record batch (payload, headers, framing; an upper bound). */
  get encodedBytes(): number {
    return this.#encodedBytes;
  }

  /**
   * The records (by index) the sink can never write: key or value not matching the formats, a
   * rowtime that is no Kafka timestamp (with `timestamp: rowtime`), or a message larger than the
   * topic accepts. Dead letters are never flagged: they are written as they are (cut to fit).
   */
  check(records: readonly SinkRecord[]): ReadonlyMap<number, PoisonRecordError> {
    const { keyFormat, valueFormat, timestamp } = this.#config;
    const checkFormats = keyFormat !== 'bytes' || valueFormat !== 'bytes';
    const checkTimestamp = timestamp === 'rowtime';
    const roomy = this.#mainLimit.bytes - BATCH_OVERHEAD_BYTES - HEADER_ALLOWANCE_BYTES;
    let flagged: Map<number, PoisonRecordError> | undefined;
    for (let index = 0; index < records.length; index += 1) {
      const record = records[index]!;
      if (record.route === 'dead-letter') continue;
      try {
        if (checkFormats) {
          toBytes(record.key, keyFormat, 'key', record);
          toBytes(record.value, valueFormat, 'value', record);
        }
        if (checkTimestamp && !isSaneRowtime(Math.trunc(record.rowtime))) throw badTimestamp(record);
        if ((record.key?.byteLength ?? 0) + (record.value?.byteLength ?? 0) > roomy) {
          this.encode(record);
          if (this.#encodedBytes > this.#mainLimit.bytes - BATCH_OVERHEAD_BYTES) throw this.#tooLarge(record);
        }
      } catch (error) {
        flagged ??= new Map();
        flagged.set(index, error as PoisonRecordError);
      }
    }
    return flagged ?? NO_POISON;
  }

  #tooLarge(record: SinkRecord): PoisonRecordError {
    const limit = this.#mainLimit;
    return new PoisonRecordError(
      `kafka sink: the record at ${describePosition(record)} is a message of ${this.#encodedBytes} bytes, more than topic '${this.#config.topic}' accepts (${limit.bytes} bytes, ${limit.setting})`,
      {
        fix: `Keep records under ${limit.bytes - BATCH_OVERHEAD_BYTES - HEADER_ALLOWANCE_BYTES} bytes (the file source's maxLineBytes, or what the transform produces), or raise ${limit.setting}.`,
        details: { unit: record.position.unit, next: record.position.next, limit: limit.bytes },
      },
    );
  }

  /**
   * The message of one record (main route: key and value checked against the formats, throwing
   * POISON_RECORD; dead letters as they are) with its headers: the record's own, provenance per
   * `provenanceHeaders`, and the error of a dead letter. Sets {@link encodedBytes}.
   */
  encode(record: SinkRecord): OutgoingMessage {
    const config = this.#config;
    const deadLetter = record.route === 'dead-letter';
    const key = deadLetter ? asBuffer(record.key) : toBytes(record.key, config.keyFormat, 'key', record);
    let value = deadLetter
      ? asBuffer(record.value)
      : toBytes(record.value, config.valueFormat, 'value', record);
    let bytes = MESSAGE_OVERHEAD_BYTES + (key?.byteLength ?? 0) + (value?.byteLength ?? 0);
    let headers = EMPTY_HEADERS;
    const own = record.headers;
    const provenanceMode = config.provenanceHeaders;
    if (provenanceMode !== 'none' || deadLetter || hasKeys(own)) {
      headers = {};
      for (const name in own) {
        const headerValue = own[name]!;
        headers[name] = headerValue;
        bytes += HEADER_OVERHEAD_BYTES + Buffer.byteLength(name) + Buffer.byteLength(headerValue);
      }
      if (provenanceMode === 'json') {
        const text = this.#provenanceJson(record.provenance);
        headers[PROVENANCE_HEADER] = text;
        bytes += HEADER_OVERHEAD_BYTES + PROVENANCE_HEADER.length + Buffer.byteLength(text);
      } else if (provenanceMode === 'compact') {
        const text = provenanceCompact(record.provenance);
        headers[COMPACT_PROVENANCE_HEADER] = text;
        bytes += HEADER_OVERHEAD_BYTES + COMPACT_PROVENANCE_HEADER.length + Buffer.byteLength(text);
      } else if (provenanceMode === 'columns') {
        const provenance = record.provenance;
        for (const column in provenance) {
          const provenanceValue = provenance[column];
          if (provenanceValue === null || provenanceValue === undefined) continue;
          const name = this.#headerName(column);
          const text = typeof provenanceValue === 'string' ? provenanceValue : String(provenanceValue);
          headers[name] = text;
          bytes += HEADER_OVERHEAD_BYTES + Buffer.byteLength(name) + Buffer.byteLength(text);
        }
        headers[PIPELINE_HEADER] = this.#pipelineHeader;
        bytes += HEADER_OVERHEAD_BYTES + PIPELINE_HEADER.length + Buffer.byteLength(this.#pipelineHeader);
      }
      // The runtime's reason (with source and location) when it set one, else the record's own.
      if (deadLetter && record.poison !== undefined && headers[ERROR_HEADER] === undefined) {
        bytes += HEADER_OVERHEAD_BYTES + ERROR_HEADER.length + Buffer.byteLength(record.poison);
        headers[ERROR_HEADER] = record.poison;
      }
    }
    if (deadLetter) {
      const room = this.#deadLetterLimit.bytes - BATCH_OVERHEAD_BYTES;
      if (bytes > room && value !== null) {
        const original = String(value.byteLength);
        bytes += HEADER_OVERHEAD_BYTES + ORIGINAL_BYTES_HEADER.length + original.length;
        const cut = Math.max(0, value.byteLength - (bytes - room));
        bytes -= value.byteLength - cut;
        value = value.subarray(0, cut);
        headers[ORIGINAL_BYTES_HEADER] = original;
      }
    }
    this.#encodedBytes = bytes;
    if (config.timestamp !== 'rowtime') return { key, value, headers };
    const timestamp = Math.trunc(record.rowtime);
    if (isSaneRowtime(timestamp)) return { key, value, headers, timestamp: String(timestamp) };
    // A dead letter keeps its (insane) rowtime out of the timestamp: the broker's time is used.
    if (deadLetter) return { key, value, headers };
    throw badTimestamp(record);
  }

  /**
   * `{"pipeline":…,"<column>":value,…}`, built by hand: one string, no intermediate object.
   * Column keys are encoded once; a string value equal to the column's previous one (the same
   * file or topic on consecutive records) reuses its JSON.
   */
  #provenanceJson(provenance: SinkRecord['provenance']): string {
    let text = this.#pipelineJsonPrefix;
    for (const column in provenance) {
      const provenanceValue = provenance[column];
      if (provenanceValue === undefined) continue;
      let key = this.#jsonKeys.get(column);
      if (key === undefined) {
        key = `,${JSON.stringify(column)}:`;
        if (this.#jsonKeys.size < MAX_CACHED_COLUMNS) this.#jsonKeys.set(column, key);
      }
      text += key;
      if (typeof provenanceValue === 'number' && Number.isFinite(provenanceValue)) text += provenanceValue;
      else if (typeof provenanceValue === 'string') text += this.#stringJson(column, provenanceValue);
      else text += JSON.stringify(provenanceValue);
    }
    return `${text}}`;
  }

  #stringJson(column: string, value: string): string {
    const last = this.#lastStrings.get(column);
    if (last !== undefined && last.value === value) return last.json;
    const json = JSON.stringify(value);
    if (last !== undefined) {
      last.value = value;
      last.json = json;
    } else if (this.#lastStrings.size < MAX_CACHED_COLUMNS) this.#lastStrings.set(column, { value, json });
    return json;
  }

  #headerName(column: string): string {
    let name = this.#headerNames.get(column);
    if (name === undefined) {
      name = PROVENANCE_HEADER_PREFIX + column;
      this.#headerNames.set(column, name);
    }
    return name;
  }
}

/**
 * The values of the provenance columns in the source's column order, tab-separated, without
 * names or the pipeline: `/data/in.log<TAB>1042<TAB>17`. A string holding a tab, a newline, a
 * backslash or starting with `"` is written as a JSON string; null and undefined as nothing.
 */
export function provenanceCompact(provenance: SinkRecord['provenance']): string {
  let text = '';
  let first = true;
  for (const column in provenance) {
    const value = provenance[column];
    if (!first) text += '\t';
    first = false;
    if (value === null || value === undefined) continue;
    if (typeof value === 'string') text += NEEDS_QUOTING.test(value) ? JSON.stringify(value) : value;
    else text += typeof value === 'number' || typeof value === 'boolean' ? value : JSON.stringify(value);
  }
  return text;
}

const NEEDS_QUOTING = /^"|[\t\n\r\\]/;
/** Bounds the per-column caches (sources declare a handful of columns). */
const MAX_CACHED_COLUMNS = 64;

function hasKeys(headers: Record<string, string>): boolean {
  for (const _ in headers) return true;
  return false;
}

function asBuffer(bytes: Uint8Array | null): Buffer | null {
  if (bytes === null) return null;
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function toBytes(
  bytes: Uint8Array | null,
  format: KafkaSinkConfig['keyFormat'],
  field: 'key' | 'value',
  record: SinkRecord,
): Buffer | null {
  const buffer = asBuffer(bytes);
  if (buffer === null || format === 'bytes') return buffer;
  if (format === 'string') {
    if (!isUtf8(buffer)) throw poison(field, 'is not valid UTF-8', record);
    return buffer;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(buffer.toString('utf8'));
  } catch {
    throw poison(field, 'is not valid JSON', record);
  }
  return Buffer.from(JSON.stringify(parsed), 'utf8');
}

/** Where a record came from, for messages: its provenance (file and line, partition and offset…). */
function describePosition(record: SinkRecord): string {
  const parts: string[] = [];
  for (const column in record.provenance) {
    const value = record.provenance[column];
    if (value !== undefined && value !== null) parts.push(`${column}=${String(value)}`);
  }
  return parts.length > 0 ? parts.join(' ') : `${record.position.unit}/${String(record.position.next)}`;
}

function badTimestamp(record: SinkRecord): PoisonRecordError {
  return new PoisonRecordError(
    `kafka sink: the rowtime ${record.rowtime} of the record at ${describePosition(record)} is no Kafka timestamp (epoch milliseconds in years 1970–9999)`,
    {
      fix: "Declare the unit of the time field (the file source's rowtimeUnit), fix the transform that sets rowtime, or set timestamp: now.",
      details: { unit: record.position.unit, next: record.position.next },
    },
  );
}

function poison(field: 'key' | 'value', reason: string, record: SinkRecord): PoisonRecordError {
  return new PoisonRecordError(
    `kafka sink: the ${field} of the record at ${describePosition(record)} ${reason}`,
    {
      fix: `Make the transform produce a valid ${field}, or set ${field}Format: bytes.`,
      details: { unit: record.position.unit, next: record.position.next },
    },
  );
}
