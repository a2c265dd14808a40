import { createHash } from 'node:crypto';
import { KPL_MAGIC } from '../aggregation.js';

/** Test helper: builds a KPL aggregated record the way the Kinesis Producer Library does. */
export function aggregate(records: readonly { partitionKey: string; data: Uint8Array | string }[]): Buffer {
  const keys = [...new Set(records.map((record) => record.partitionKey))];
  const parts: Buffer[] = keys.map((key) => field(1, Buffer.from(key, 'utf8')));
  for (const record of records) {
    const data =
      typeof record.data === 'string' ? Buffer.from(record.data, 'utf8') : Buffer.from(record.data);
    const body = Buffer.concat([
      Buffer.from([0x08]),
      varint(keys.indexOf(record.partitionKey)),
      field(3, data),
    ]);
    parts.push(field(3, body));
  }
  return frame(Buffer.concat(parts));
}

/** Wraps protobuf bytes as an aggregated record: magic, body, MD5 digest of the body. */
export function frame(protobuf: Buffer): Buffer {
  return Buffer.concat([Buffer.from(KPL_MAGIC), protobuf, createHash('md5').update(protobuf).digest()]);
}

function field(number: number, bytes: Buffer): Buffer {
  return Buffer.concat([varint(number * 8 + 2), varint(bytes.length), bytes]);
}

function varint(value: number): Buffer {
  const bytes: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}
