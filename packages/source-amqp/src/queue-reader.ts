import type { JsonValue, Logger, TidemarkRecord } from '@tidemark/sdk';
import type { AmqpSourceConfig } from './config.js';
import { queueTypeMismatch } from './errors.js';
import {
  creationTime,
  type DeliveredMessage,
  messageIdentity,
  provenanceOf,
  streamOffset,
  stringHeaders,
} from './provenance.js';
import type { QueueConsumer } from './queue-consumer.js';
import { RedeliveryLedger } from './redelivery-ledger.js';
import { parseRedeliverPosition, parseStreamPosition } from './watermark.js';

/** What one queue's reader hands the source from a take. */
export interface QueueTake {
  readonly records: TidemarkRecord[];
  /** A position that changed without a record (the watermark shrank), for the batch's `advance`. */
  readonly advance?: JsonValue;
}

/**
 * Reads one queue through its consumer. `start` positions it (a committed position, or
 * undefined for the configured start); `take` returns records without waiting; `acknowledge`
 * is told what the sink committed. One call at a time.
 */
export interface QueueReader {
  readonly queue: string;
  readonly consumer: QueueConsumer;
  start(position: JsonValue | undefined): Promise<void>;
  take(maxRecords: number, maxBytes: number): Promise<QueueTake>;
  acknowledge(position: JsonValue): Promise<void>;
}

function toRecord(queue: string, message: DeliveredMessage, next: JsonValue): TidemarkRecord {
  return {
    key: null,
    value: message.content,
    headers: stringHeaders(message),
    rowtime: creationTime(message) ?? Date.now(),
    provenance: provenanceOf(queue, message),
    position: { unit: queue, next },
  };
}

/**
 * A stream queue: replay by offset. Deliveries are acknowledged as they are taken (on a stream
 * that only grants credit for more), so at most `prefetch` (rounded up to a chunk) wait unread.
 */
export class StreamReader implements QueueReader {
  readonly queue: string;
  readonly consumer: QueueConsumer;
  readonly #config: AmqpSourceConfig;
  /**
   * Deliveries below this offset are dropped: before the start offset (the broker starts at a
   * chunk boundary), then anything not after the last offset returned.
   */
  #floor: bigint | null = null;

  constructor(queue: string, consumer: QueueConsumer, config: AmqpSourceConfig) {
    this.queue = queue;
    this.consumer = consumer;
    this.#config = config;
  }

  async start(position: JsonValue | undefined): Promise<void> {
    const offset =
      position !== undefined
        ? parseStreamPosition(this.queue, position)
        : this.#config.startOffset !== undefined
          ? BigInt(this.#config.startOffset)
          : null;
    this.#floor = offset;
    await this.consumer.start({ 'x-stream-offset': streamStart(offset, this.#config) });
  }

  async take(maxRecords: number, maxBytes: number): Promise<QueueTake> {
    this.consumer.throwIfFailed();
    const records: TidemarkRecord[] = [];
    let bytes = 0;
    let lastTag = -1;
    while (records.length < maxRecords && bytes < maxBytes && this.consumer.buffered > 0) {
      for (const message of this.consumer.take(Math.min(256, maxRecords - records.length))) {
        lastTag = message.fields.deliveryTag;
        const offset = streamOffset(message);
        if (offset === null) throw queueTypeMismatch(this.queue, 'stream');
        if (this.#floor !== null && offset < this.#floor) continue;
        this.#floor = offset + 1n;
        records.push(toRecord(this.queue, message, this.#floor.toString()));
        bytes += message.content.byteLength;
      }
    }
    if (lastTag >= 0) this.consumer.acknowledge(lastTag, true);
    return { records };
  }

  async acknowledge(): Promise<void> {
    // Nothing to tell a stream: the committed watermark is the only position.
  }
}

/** The `x-stream-offset` argument: an offset, a time as an AMQP timestamp (seconds), or a keyword. */
export function streamStart(offset: bigint | null, config: AmqpSourceConfig): unknown {
  if (offset !== null) return Number(offset);
  if (config.startTime !== undefined) return { '!': 'timestamp', value: Math.floor(config.startTime / 1000) };
  return config.start;
}

/**
 * A classic or quorum queue: the broker redelivers what was not acknowledged. Messages are
 * acknowledged only in `acknowledge`, after the sink committed them; a redelivery of a
 * committed message is recognised by its identity (see RedeliveryLedger), acknowledged and
 * skipped.
 */
export class RedeliverReader implements QueueReader {
  readonly queue: string;
  readonly consumer: QueueConsumer;
  readonly ledger = new RedeliveryLedger();
  /** Redeliveries skipped because the watermark covered them (for tests and metrics). */
  skipped = 0;
  readonly #forgetAfterMs: number;
  readonly #logger: Logger;

  constructor(queue: string, consumer: QueueConsumer, forgetAfterMs: number, logger: Logger) {
    this.queue = queue;
    this.consumer = consumer;
    this.#forgetAfterMs = forgetAfterMs;
    this.#logger = logger;
  }

  async start(position: JsonValue | undefined): Promise<void> {
    this.ledger.reset(position === undefined ? null : parseRedeliverPosition(this.queue, position));
    await this.consumer.start(undefined);
  }

  async take(maxRecords: number, maxBytes: number): Promise<QueueTake> {
    this.consumer.throwIfFailed();
    const since = this.consumer.consumingSince;
    if (this.ledger.unseen > 0 && since > 0 && Date.now() - since >= this.#forgetAfterMs) {
      this.#logger.info(
        { queue: this.queue, forgotten: this.ledger.unseen },
        'forgot committed messages not redelivered (their acknowledgement had reached the broker)',
      );
      this.ledger.forgetUnseen();
    }
    const records: TidemarkRecord[] = [];
    const skipped: string[] = [];
    let bytes = 0;
    while (records.length < maxRecords && bytes < maxBytes && this.consumer.buffered > 0) {
      const [message] = this.consumer.take(1);
      if (!message) break;
      if (streamOffset(message) !== null) throw queueTypeMismatch(this.queue, 'classic or quorum');
      const identity = messageIdentity(message);
      const outcome = this.ledger.deliver(identity, message.fields.deliveryTag, message.fields.redelivered);
      if (outcome.skip) {
        this.consumer.acknowledge(message.fields.deliveryTag, false);
        skipped.push(identity);
        continue;
      }
      records.push(toRecord(this.queue, message, outcome.position as unknown as JsonValue));
      bytes += message.content.byteLength;
    }
    if (skipped.length > 0) {
      this.skipped += skipped.length;
      this.#logger.info(
        { queue: this.queue, skipped: skipped.length },
        'acknowledged redeliveries of committed messages without emitting them',
      );
      await this.consumer.sync();
      this.ledger.confirm(skipped);
    }
    if (records.length === 0 && this.ledger.dirty) {
      this.ledger.dirty = false;
      return { records, advance: this.ledger.position() as unknown as JsonValue };
    }
    return { records };
  }

  /**
   * Acknowledges the committed messages `position` covers and waits for the broker to confirm.
   * On a lost connection it returns without error: the broker already requeued them, the
   * runtime's rewind (`seek`) follows, and their identities stay in the watermark until their
   * redeliveries are recognised.
   */
  async acknowledge(position: JsonValue): Promise<void> {
    const { deliveryTag, identities } = this.ledger.committedUpTo(
      parseRedeliverPosition(this.queue, position),
    );
    if (deliveryTag === null || this.consumer.failed) return;
    try {
      this.consumer.acknowledge(deliveryTag, true);
      await this.consumer.sync();
    } catch (error) {
      if (this.consumer.failed) return;
      throw error;
    }
    this.ledger.confirm(identities);
  }
}
