import { createHash } from 'node:crypto';

/**
 * Decoder of records aggregated by the Kinesis Producer Library (KPL): the 4-byte magic
 * 0xF3899AC2, a protobuf `AggregatedRecord`, then the MD5 digest of the protobuf bytes.
 *
 *   message AggregatedRecord { repeated string partition_key_table = 1;
 *                              repeated string explicit_hash_key_table = 2;
 *                              repeated Record records = 3; }
 *   message Record { required uint64 partition_key_index = 1; optional uint64 explicit_hash_key_index = 2;
 *                    required bytes data = 3; repeated Tag tags = 4; }
 *
 * Pure, no I/O. (The awslabs `aws-kinesis-agg` package pins old protobufjs, async and
 * agentkeepalive releases; this format needs forty lines of protobuf reading.)
 */

export const KPL_MAGIC = Uint8Array.of(0xf3, 0x89, 0x9a, 0xc2);
const DIGEST_BYTES = 16;

/** One user record inside an aggregated Kinesis record. */
export interface UserRecord {
  readonly partitionKey: string;
  readonly explicitHashKey: string | undefined;
  readonly data: Uint8Array;
}

/**
 * What {@link deaggregate} found: `plain` (not aggregated: no magic, or a digest that does not
 * match, exactly as the KPL's own consumer library treats it), `aggregated` with its user
 * records in order, or `invalid` (magic and digest match but the protobuf is malformed).
 */
export type Deaggregated =
  | { readonly kind: 'plain' }
  | { readonly kind: 'aggregated'; readonly records: readonly UserRecord[] }
  | { readonly kind: 'invalid'; readonly reason: string };

/** True when `data` starts with the KPL magic. */
export function hasAggregationMagic(data: Uint8Array): boolean {
  return (
    data.length >= KPL_MAGIC.length + DIGEST_BYTES &&
    data[0] === KPL_MAGIC[0] &&
    data[1] === KPL_MAGIC[1] &&
    data[2] === KPL_MAGIC[2] &&
    data[3] === KPL_MAGIC[3]
  );
}

/** Splits a Kinesis record's data into its user records when the KPL aggregated it. */
export function deaggregate(data: Uint8Array): Deaggregated {
  if (!hasAggregationMagic(data)) return { kind: 'plain' };
  const body = data.subarray(KPL_MAGIC.length, data.length - DIGEST_BYTES);
  const digest = data.subarray(data.length - DIGEST_BYTES);
  const computed = createHash('md5').update(body).digest();
  if (!computed.equals(digest)) return { kind: 'plain' };
  try {
    return { kind: 'aggregated', records: parseAggregatedRecord(body) };
  } catch (error) {
    return { kind: 'invalid', reason: (error as Error).message };
  }
}

const textDecoder = new TextDecoder('utf-8', { fatal: true });

function parseAggregatedRecord(body: Uint8Array): UserRecord[] {
  const partitionKeys: string[] = [];
  const hashKeys: string[] = [];
  const raw: { partitionKeyIndex: number; hashKeyIndex: number | undefined; data: Uint8Array }[] = [];
  const reader = new ProtobufReader(body);
  while (!reader.done()) {
    const { field, wireType } = reader.tag();
    if (field === 1 && wireType === 2) partitionKeys.push(textDecoder.decode(reader.bytes()));
    else if (field === 2 && wireType === 2) hashKeys.push(textDecoder.decode(reader.bytes()));
    else if (field === 3 && wireType === 2) raw.push(parseRecord(reader.bytes()));
    else reader.skip(wireType);
  }
  return raw.map((record, index) => {
    const partitionKey = partitionKeys[record.partitionKeyIndex];
    if (partitionKey === undefined)
      throw new Error(
        `user record ${index} names partition key ${record.partitionKeyIndex}, not in the table`,
      );
    let explicitHashKey: string | undefined;
    if (record.hashKeyIndex !== undefined) {
      explicitHashKey = hashKeys[record.hashKeyIndex];
      if (explicitHashKey === undefined)
        throw new Error(`user record ${index} names hash key ${record.hashKeyIndex}, not in the table`);
    }
    return { partitionKey, explicitHashKey, data: record.data };
  });
}

function parseRecord(body: Uint8Array): {
  partitionKeyIndex: number;
  hashKeyIndex: number | undefined;
  data: Uint8Array;
} {
  let partitionKeyIndex: number | undefined;
  let hashKeyIndex: number | undefined;
  let data: Uint8Array | undefined;
  const reader = new ProtobufReader(body);
  while (!reader.done()) {
    const { field, wireType } = reader.tag();
    if (field === 1 && wireType === 0) partitionKeyIndex = reader.varint();
    else if (field === 2 && wireType === 0) hashKeyIndex = reader.varint();
    else if (field === 3 && wireType === 2) data = reader.bytes();
    else reader.skip(wireType);
  }
  if (partitionKeyIndex === undefined) throw new Error('a user record lacks its partition_key_index');
  if (data === undefined) throw new Error('a user record lacks its data');
  return { partitionKeyIndex, hashKeyIndex, data };
}

/** Reads protobuf wire format; throws on truncation or unsupported wire types. */
class ProtobufReader {
  #offset = 0;
  constructor(private readonly buffer: Uint8Array) {}

  done(): boolean {
    return this.#offset >= this.buffer.length;
  }

  tag(): { field: number; wireType: number } {
    const key = this.varint();
    return { field: Math.floor(key / 8), wireType: key % 8 };
  }

  /** A varint up to 2^53 (indexes and lengths; larger values are refused). */
  varint(): number {
    let value = 0;
    let scale = 1;
    for (let count = 0; count < 8; count += 1) {
      if (this.#offset >= this.buffer.length) throw new Error('truncated varint');
      const byte = this.buffer[this.#offset++]!;
      value += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) return value;
      scale *= 128;
    }
    throw new Error('varint too large');
  }

  bytes(): Uint8Array {
    const length = this.varint();
    const end = this.#offset + length;
    if (end > this.buffer.length) throw new Error('truncated length-delimited field');
    const slice = this.buffer.subarray(this.#offset, end);
    this.#offset = end;
    return slice;
  }

  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.#advance(8);
    else if (wireType === 2) this.bytes();
    else if (wireType === 5) this.#advance(4);
    else throw new Error(`unsupported protobuf wire type ${wireType}`);
  }

  #advance(count: number): void {
    if (this.#offset + count > this.buffer.length) throw new Error('truncated fixed-size field');
    this.#offset += count;
  }
}
