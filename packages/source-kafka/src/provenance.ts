import type { Headers, ProvenanceColumn, TidemarkRecord } from '@tidemark/sdk';
import type { FetchedMessage } from './kafka-client.js';

/** The provenance columns every Kafka record carries. */
export const KAFKA_PROVENANCE: readonly ProvenanceColumn[] = Object.freeze([
  { name: 'kafka.topic', type: 'string', description: 'Topic the record was read from.' },
  { name: 'kafka.partition', type: 'integer', description: 'Partition the record was read from.' },
  {
    name: 'kafka.offset',
    type: 'bigint',
    description: 'Offset of the record in its partition (decimal string).',
  },
  {
    name: 'kafka.timestamp',
    type: 'timestamp',
    description: 'Timestamp of the record (epoch ms): create or log-append time, per the topic.',
  },
]);

/**
 * The record of one fetched message of partition `state`; `next` is the offset after it (the
 * record's position). Keys, values and headers are passed through as they are: no copy.
 */
export function toRecord(
  state: { readonly topic: string; readonly partition: number; readonly unit: string },
  message: FetchedMessage,
  next: bigint,
): TidemarkRecord {
  const timestamp = Number(message.timestamp);
  return {
    key: message.key,
    value: message.value,
    headers: decodeHeaders(message.headers),
    rowtime: timestamp,
    provenance: {
      'kafka.topic': state.topic,
      'kafka.partition': state.partition,
      'kafka.offset': message.offset,
      'kafka.timestamp': timestamp,
    },
    position: { unit: state.unit, next: String(next) },
  };
}

/** Header values as UTF-8 strings; when a name repeats, the last value wins. */
function decodeHeaders(raw: FetchedMessage['headers']): Headers {
  const headers: Headers = {};
  if (!raw) return headers;
  for (const name in raw) {
    const value = raw[name];
    const last = Array.isArray(value) ? value[value.length - 1] : value;
    if (last === undefined) continue;
    headers[name] = typeof last === 'string' ? last : last.toString('utf8');
  }
  return headers;
}
