/** What a Kafka client of the sink writes and reads, whichever library speaks to the brokers. */

/** One message to write; key and value are Buffers (views over the record bytes, not copies). */
export interface OutgoingMessage {
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
  /** Epoch milliseconds as a decimal string; undefined lets the client stamp the time of sending. */
  timestamp?: string;
}

export interface TopicMessages {
  readonly topic: string;
  readonly messages: OutgoingMessage[];
}

/** One offset commit entry. `offset` must be ≥ 0; `metadata` at most `offset.metadata.max.bytes`. */
export interface OffsetEntry {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly metadata: string;
}

/** A committed offset of a group; `offset` is -1 when the partition has no commit. */
export interface CommittedOffset {
  readonly partition: number;
  readonly offset: number;
  readonly metadata: string | null;
}

/** `entries` grouped by topic (first-seen order), each mapped by `toPartition`: one request's topic list. */
export function offsetsByTopic<T>(
  entries: readonly OffsetEntry[],
  toPartition: (entry: OffsetEntry) => T,
): [topic: string, partitions: T[]][] {
  const byTopic = new Map<string, T[]>();
  for (const entry of entries) {
    const partitions = byTopic.get(entry.topic);
    if (partitions) partitions.push(toPartition(entry));
    else byTopic.set(entry.topic, [toPartition(entry)]);
  }
  return [...byTopic];
}
