import { type JsonValue, TidemarkError } from '@tidemark/sdk';
import { IDENTITY_LENGTH } from './provenance.js';

/**
 * Positions, one per queue (the watermark unit is the queue name):
 *
 * - stream queues: the offset of the next message to read, as a decimal string (a message at
 *   offset n has position n + 1);
 * - classic and quorum queues: `{ count, unacked }`: `count` is the number of messages this
 *   source has committed from the queue, and `unacked` the identities (see messageIdentity,
 *   fixed width, concatenated) of committed messages whose acknowledgement the broker has not
 *   confirmed yet, one per message (an identity repeats when identical messages are pending).
 *   A redelivery whose identity is listed is a message already in the sink: it is acknowledged
 *   and skipped. One string rather than a list keeps the watermark small and lets every record
 *   carry its own position at constant cost (string concatenation shares the prefix).
 */
export interface RedeliverPosition {
  readonly count: number;
  readonly unacked: string;
}

/** The identities listed in `unacked`, in order. */
export function splitIdentities(unacked: string): string[] {
  const identities: string[] = [];
  for (let index = 0; index < unacked.length; index += IDENTITY_LENGTH) {
    identities.push(unacked.slice(index, index + IDENTITY_LENGTH));
  }
  return identities;
}

/** Parses a stream position; throws WATERMARK_INVALID for anything but a decimal string. */
export function parseStreamPosition(queue: string, position: JsonValue): bigint {
  if (typeof position === 'string' && /^\d+$/.test(position)) return BigInt(position);
  if (typeof position === 'number' && Number.isSafeInteger(position) && position >= 0)
    return BigInt(position);
  throw invalid(queue, position, 'a stream offset (decimal string)');
}

/** Parses a classic/quorum queue position; throws WATERMARK_INVALID when it has another shape. */
export function parseRedeliverPosition(queue: string, position: JsonValue): RedeliverPosition {
  if (typeof position === 'object' && position !== null && !Array.isArray(position)) {
    const { count, unacked } = position as Record<string, JsonValue>;
    if (
      typeof count === 'number' &&
      Number.isSafeInteger(count) &&
      count >= 0 &&
      typeof unacked === 'string' &&
      unacked.length % IDENTITY_LENGTH === 0 &&
      /^[A-Za-z0-9_-]*$/.test(unacked)
    ) {
      return { count, unacked };
    }
  }
  throw invalid(queue, position, '{ count, unacked } of a classic or quorum queue');
}

function invalid(queue: string, position: JsonValue, expected: string): TidemarkError {
  const shown = JSON.stringify(position);
  return new TidemarkError(
    'WATERMARK_INVALID',
    `amqp: the committed position of queue '${queue}' is ${shown.length > 80 ? `${shown.slice(0, 80)}…` : shown}, not ${expected}`,
    {
      fix: 'The queue type changed since the watermark was committed: set queueType back, or reset the watermark deliberately (tidemark watermarks reset).',
    },
  );
}
