import { createHash } from 'node:crypto';
import { type JsonValue, TidemarkError } from '@tidemark/sdk';

/**
 * The position of an MQTT session, stored under the unit `<clientId>` of the source watermark.
 *
 * - `seq`: how many records this session has yielded since it was first read (orders positions;
 *   an acknowledgement of position `p` covers every held message with `seq <= p.seq`).
 * - `unacked`: `"<packetId>:<hash>"` for every message committed (or being committed with this
 *   position) whose acknowledgement the broker has not been seen to process. After a restart
 *   the broker redelivers exactly these (and never-committed ones); a redelivery whose packet id
 *   and content hash are listed is acknowledged and not emitted again. A message that reuses a
 *   listed packet id with other content is new: it is emitted, and the entry is dropped.
 */
export interface SessionPosition {
  readonly seq: number;
  readonly unacked: readonly string[];
}

/** One listed message: its packet id and content hash. */
export interface ListedMessage {
  readonly messageId: number;
  readonly hash: string;
}

const ENTRY = /^(\d{1,5}):([0-9a-f]{1,64})$/;

/** Hash of a message's identity for recognising a redelivery: topic and payload (12 hex digits). */
export function messageHash(topic: string, payload: Uint8Array): string {
  return createHash('sha256').update(topic).update('\u0000').update(payload).digest('hex').slice(0, 12);
}

export function encodeEntry(message: ListedMessage): string {
  return `${message.messageId}:${message.hash}`;
}

export function encodePosition(seq: number, unacked: readonly string[]): SessionPosition {
  return { seq, unacked };
}

/** Parses a stored position; throws WATERMARK_INVALID naming the fix on anything else. */
export function parsePosition(value: JsonValue | undefined, unit: string): SessionPosition | null {
  if (value === undefined || value === null) return null;
  const invalid = (why: string) =>
    new TidemarkError('WATERMARK_INVALID', `MQTT watermark of session '${unit}' ${why}`, {
      fix: 'Reset the watermark of this source (tidemark watermarks reset) or use a new clientId.',
    });
  if (typeof value !== 'object' || Array.isArray(value)) throw invalid('is not an object');
  const { seq, unacked } = value as { seq?: unknown; unacked?: unknown };
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) throw invalid('has no valid seq');
  if (!Array.isArray(unacked) || !unacked.every((entry) => typeof entry === 'string' && ENTRY.test(entry))) {
    throw invalid('has a malformed unacked list');
  }
  return { seq, unacked: unacked as string[] };
}

export function parseEntry(entry: string): ListedMessage {
  const match = ENTRY.exec(entry);
  if (!match) throw new TidemarkError('WATERMARK_INVALID', `malformed MQTT watermark entry ${entry}`);
  return { messageId: Number(match[1]), hash: match[2]! };
}

/** Orders two positions of one session by `seq` (for the conformance kit and tools). */
export function compareSessionPositions(a: JsonValue, b: JsonValue): number {
  return (parsePosition(a, 'a')?.seq ?? 0) - (parsePosition(b, 'b')?.seq ?? 0);
}
