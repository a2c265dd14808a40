import { createHash } from 'node:crypto';
import type { Headers, ProvenanceColumn, ProvenanceValue } from '@tidemark/sdk';

/** The provenance columns of every AMQP record. */
export const AMQP_PROVENANCE: readonly ProvenanceColumn[] = Object.freeze([
  { name: 'amqp.queue', type: 'string', description: 'Queue the message was read from.' },
  {
    name: 'amqp.offset',
    type: 'bigint',
    description: 'Stream queues: offset of the message in the stream (decimal string); null on other queues.',
  },
  {
    name: 'amqp.creation_time',
    type: 'timestamp',
    description: "The message's timestamp property (epoch ms); null when the publisher set none.",
  },
  {
    name: 'amqp.message_id',
    type: 'string',
    description: "The message's message-id property; null when unset.",
  },
  { name: 'amqp.routing_key', type: 'string', description: 'Routing key the message was published with.' },
  {
    name: 'amqp.exchange',
    type: 'string',
    description: "Exchange it was published to ('' for the default exchange).",
  },
] as const);

/** Columns that are null on some records. */
export const NULLABLE_PROVENANCE = ['amqp.offset', 'amqp.creation_time', 'amqp.message_id'] as const;

/** The parts of an amqplib message the source reads. */
export interface DeliveredMessage {
  readonly content: Buffer;
  readonly fields: {
    readonly deliveryTag: number;
    readonly redelivered: boolean;
    readonly exchange: string;
    readonly routingKey: string;
  };
  readonly properties: {
    readonly headers?: Record<string, unknown> | undefined;
    readonly messageId?: unknown;
    readonly timestamp?: unknown;
    readonly correlationId?: unknown;
    readonly type?: unknown;
    readonly appId?: unknown;
    readonly contentType?: unknown;
    readonly contentEncoding?: unknown;
  };
}

/** Characters of one message identity (64 bits in base64url). */
export const IDENTITY_LENGTH = 11;

/** Headers the broker adds or changes on delivery: not part of a message's identity. */
const BROKER_HEADERS = new Set(['x-delivery-count', 'x-stream-offset']);

/** The message timestamp in epoch ms (AMQP 0-9-1 timestamps are seconds), or null. */
export function creationTime(message: DeliveredMessage): number | null {
  const timestamp = message.properties.timestamp;
  return typeof timestamp === 'number' && Number.isFinite(timestamp) && timestamp > 0
    ? timestamp * 1000
    : null;
}

/** The stream offset of a delivery (header `x-stream-offset`), or null outside stream queues. */
export function streamOffset(message: DeliveredMessage): bigint | null {
  const offset = message.properties.headers?.['x-stream-offset'];
  if (typeof offset === 'number' && Number.isInteger(offset)) return BigInt(offset);
  if (typeof offset === 'bigint') return offset;
  return null;
}

/** Header values as strings: text as is, buffers as UTF-8, anything else as JSON. */
export function stringHeaders(message: DeliveredMessage): Headers {
  const headers: Headers = {};
  for (const [name, value] of Object.entries(message.properties.headers ?? {})) {
    headers[name] = headerText(value);
  }
  return headers;
}

function headerText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (typeof value === 'bigint') return value.toString();
  return JSON.stringify(value, (_key, inner) => (typeof inner === 'bigint' ? inner.toString() : inner)) ?? '';
}

/** The provenance values of one delivery. */
export function provenanceOf(queue: string, message: DeliveredMessage): Record<string, ProvenanceValue> {
  const offset = streamOffset(message);
  const messageId = message.properties.messageId;
  return {
    'amqp.queue': queue,
    'amqp.offset': offset === null ? null : offset.toString(),
    'amqp.creation_time': creationTime(message),
    'amqp.message_id':
      typeof messageId === 'string' ? messageId : messageId == null ? null : String(messageId),
    'amqp.routing_key': message.fields.routingKey,
    'amqp.exchange': message.fields.exchange,
  };
}

/**
 * The identity of a message across redeliveries: a 64-bit SHA-256 prefix (base64url,
 * {@link IDENTITY_LENGTH} characters) of its message id, publish exchange and routing key, properties, headers (minus
 * those the broker adds on delivery) and body. Two messages with the same identity are
 * byte-for-byte the same message as far as a consumer can tell.
 */
export function messageIdentity(message: DeliveredMessage): string {
  const hash = createHash('sha256');
  const { properties, fields } = message;
  const headers = Object.entries(properties.headers ?? {})
    .filter(([name]) => !BROKER_HEADERS.has(name))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => [name, headerText(value)]);
  hash.update(
    JSON.stringify([
      properties.messageId ?? null,
      fields.exchange,
      fields.routingKey,
      properties.timestamp ?? null,
      properties.correlationId ?? null,
      properties.type ?? null,
      properties.appId ?? null,
      properties.contentType ?? null,
      properties.contentEncoding ?? null,
      headers,
    ]),
  );
  hash.update('\n');
  hash.update(message.content);
  return hash.digest().subarray(0, 8).toString('base64url');
}
