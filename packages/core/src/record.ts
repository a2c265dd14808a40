import type { JsonValue } from './json.js';

/** The type of a provenance column, as declared by a source. */
export type ProvenanceType = 'string' | 'integer' | 'bigint' | 'timestamp' | 'boolean';

/** A provenance column a source declares: every record it yields carries a value for it. */
export interface ProvenanceColumn {
  /** Namespaced name, e.g. `kafka.offset`, `file.position`. */
  readonly name: string;
  readonly type: ProvenanceType;
  readonly description: string;
}

/**
 * A provenance value. `bigint` columns travel as decimal strings (JSON-safe, exact);
 * `timestamp` columns as epoch milliseconds.
 */
export type ProvenanceValue = string | number | boolean | null;

/** Where a record sits in its source: the unit of order and the position *after* this record. */
export interface SourcePosition {
  /** The source's unit of order: a partition (`orders/3`), a shard, a file identity, a queue. */
  readonly unit: string;
  /** Position after this record within `unit`: resuming here yields the next record. */
  readonly next: JsonValue;
}

export type Headers = Record<string, string>;

/**
 * One record moving through a pipeline.
 *
 * Key and value are bytes (`Uint8Array`, which Buffers are) or null; transforms and sinks
 * (de)serialise. `rowtime` is the event time in epoch milliseconds.
 */
export interface TidemarkRecord {
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers: Headers;
  /** Event time, epoch milliseconds. */
  rowtime: number;
  /** Values of the source's declared provenance columns. */
  provenance: Record<string, ProvenanceValue>;
  /** Where this record came from: the runtime folds these into the source watermark. */
  position: SourcePosition;
  /**
   * Set by a source that could not decode the record (bad JSON, a CSV row with too many
   * fields): the runtime applies the pipeline's poison policy to it. The position still counts.
   */
  poison?: string;
}

/** A record on its way to a sink, optionally routed to a named output (e.g. the dead-letter topic). */
export interface SinkRecord extends TidemarkRecord {
  /** Sink-specific output name; undefined means the sink's main output. */
  route?: 'main' | 'dead-letter';
}

/** Approximate size in bytes of a record's payload, for commit policies and metrics. */
export function recordBytes(record: TidemarkRecord): number {
  let size = (record.key?.byteLength ?? 0) + (record.value?.byteLength ?? 0);
  for (const name in record.headers) size += name.length + (record.headers[name]?.length ?? 0);
  return size;
}
