import { deaggregate } from './aggregation.js';
import { isExpiredIterator, isThrottling, isTimestampInFuture } from './errors.js';
import type { KinesisApi } from './kinesis-client.js';
import { compareSequenceNumbers, type ShardStart, shardPositionAfter } from './stream-position.js';

/** One user record fetched from a shard and not yet returned by `read`. */
export interface PendingRecord {
  readonly sequenceNumber: string;
  /** Index of the user record in its Kinesis record (0 for a plain record). */
  readonly sub: number;
  /** The shard position after this record (see StreamPosition). */
  readonly position: string;
  readonly arrivalTime: number;
  readonly partitionKey: string;
  readonly data: Uint8Array;
  /** Set when an aggregated record could not be decoded: the runtime's poison policy applies. */
  readonly poison?: string;
}

export interface ShardReaderSettings {
  readonly deaggregate: boolean;
  readonly maxRecordsPerCall: number;
  readonly pollIntervalMs: number;
  readonly maxBackoffMs: number;
}

const FIRST_BACKOFF_MS = 100;

/**
 * Fetches one shard: holds its iterator, the records fetched but not yet returned, and its
 * pacing. `fetch` is called by the source only when `pending` is empty and `due(now)`; never
 * concurrently for one reader. Throttling and expired iterators are handled here (a pause,
 * a new iterator from the last fetched position); every other error is thrown as the AWS
 * client raised it.
 */
export class ShardReader {
  readonly stream: string;
  readonly shardId: string;
  /** Records fetched and not yet returned, in shard order. */
  pending: PendingRecord[] = [];
  /** True once the shard is closed and every record of it was fetched. */
  closed = false;
  /** Earliest time of the next GetRecords. */
  nextPollAt = 0;
  readonly #api: KinesisApi;
  readonly #settings: ShardReaderSettings;
  #iterator: string | undefined;
  /** Where a new iterator starts: just after the last record fetched, or the shard's start. */
  #resume: ShardStart;
  #backoffMs = 0;

  constructor(
    stream: string,
    shardId: string,
    start: ShardStart,
    api: KinesisApi,
    settings: ShardReaderSettings,
  ) {
    this.stream = stream;
    this.shardId = shardId;
    this.#resume = start;
    this.#api = api;
    this.#settings = settings;
  }

  due(now: number): boolean {
    return !this.closed && this.pending.length === 0 && this.nextPollAt <= now;
  }

  /** One GetRecords (after a GetShardIterator when needed); appends to `pending`. */
  async fetch(signal: AbortSignal): Promise<void> {
    try {
      this.#iterator ??= await this.#api.iterator(this.stream, this.shardId, this.#resume, signal);
      const batch = await this.#api.records(this.#iterator, this.#settings.maxRecordsPerCall, signal);
      if (signal.aborted) return;
      for (const record of batch.records) this.#accept(record);
      const last = batch.records.at(-1);
      if (last) this.#resume = { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: last.sequenceNumber };
      this.#iterator = batch.nextIterator;
      this.closed = batch.nextIterator === undefined;
      this.#backoffMs = 0;
      const caughtUp = batch.records.length === 0 && (batch.millisBehindLatest ?? 0) === 0;
      this.nextPollAt = caughtUp ? Date.now() + this.#settings.pollIntervalMs : 0;
    } catch (error) {
      if (signal.aborted) return;
      if (isExpiredIterator(error)) {
        this.#iterator = undefined;
        this.nextPollAt = 0;
        return;
      }
      // Throttled, or a start time ahead of the service's clock (clock skew): try again later.
      if (isThrottling(error) || isTimestampInFuture(error)) {
        this.#backoffMs = Math.min(
          this.#settings.maxBackoffMs,
          Math.max(FIRST_BACKOFF_MS, this.#backoffMs * 2),
        );
        this.nextPollAt = Date.now() + this.#backoffMs * (0.5 + Math.random() / 2);
        return;
      }
      throw error;
    }
  }

  /** The current pause after throttling, in ms (0 when not throttled). */
  get backoffMs(): number {
    return this.#backoffMs;
  }

  #accept(record: {
    sequenceNumber: string;
    arrivalTime: number;
    partitionKey: string;
    data: Uint8Array;
  }): void {
    const skipThrough = this.#skipThrough(record.sequenceNumber);
    const plain = (poison?: string) => {
      if (skipThrough >= 0) return;
      this.pending.push({
        sequenceNumber: record.sequenceNumber,
        sub: 0,
        position: record.sequenceNumber,
        arrivalTime: record.arrivalTime,
        partitionKey: record.partitionKey,
        data: record.data,
        ...(poison === undefined ? {} : { poison }),
      });
    };
    const result = this.#settings.deaggregate ? deaggregate(record.data) : ({ kind: 'plain' } as const);
    if (result.kind === 'plain') {
      plain();
      return;
    }
    if (result.kind === 'invalid') {
      plain(`aggregated record cannot be decoded: ${result.reason}`);
      return;
    }
    // An aggregate without user records yields nothing; resuming re-reads it harmlessly.
    const count = result.records.length;
    result.records.forEach((user, sub) => {
      if (sub <= skipThrough) return;
      this.pending.push({
        sequenceNumber: record.sequenceNumber,
        sub,
        position: shardPositionAfter(record.sequenceNumber, sub, sub === count - 1),
        arrivalTime: record.arrivalTime,
        partitionKey: user.partitionKey,
        data: user.data,
      });
    });
  }

  /** For a reader resumed inside an aggregated record: the last sub-index to skip of that record, else -1. */
  #skipThrough(sequenceNumber: string): number {
    const resume = this.#resume;
    if (resume.type !== 'AT_SEQUENCE_NUMBER') return -1;
    return compareSequenceNumbers(sequenceNumber, resume.sequenceNumber) === 0 ? resume.skipThrough : -1;
  }
}
