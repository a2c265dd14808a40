import { encodeEntry, type ListedMessage, parseEntry, type SessionPosition } from './watermark.js';

/** A message yielded and held unacknowledged until a commit covers it. */
export interface HeldMessage extends ListedMessage {
  readonly seq: number;
  readonly qos: 1 | 2;
  /** `packetId:hash`, as listed in positions. */
  readonly entry: string;
}

/** What to do with an arriving QoS 1/2 message. */
export type Arrival = 'redelivery' | 'new';

interface ListedEntry {
  readonly hash: string;
  /** `packetId:hash`, as listed in positions. */
  readonly entry: string;
  /** `carried`: from a committed watermark, fate unknown. `acked`: acknowledged, not yet confirmed. */
  state: 'carried' | 'acked';
  /** For `acked`: the confirmation round that proves the broker processed the acknowledgement. */
  round: number;
}

/**
 * The bookkeeping of a redelivering session, without I/O: which messages are held (yielded, not
 * acknowledged), which committed ones may still come back, and the position of every record.
 *
 * Contract with the connection: an acknowledgement is sent for every message `acknowledge`,
 * or `arrive` returning 'redelivery', hands back; then `sealRound()` is called and a round trip
 * (PINGREQ) sent; its answer (PINGRESP, in order) calls `confirm(round)`, which forgets those
 * entries: the broker processed the acknowledgements written before the ping.
 * Single-threaded: called from the source only, never concurrently.
 */
export class DeliveryLedger {
  readonly #maxCarried: number;
  #seq = 0;
  #listed = new Map<number, ListedEntry>();
  #held: HeldMessage[] = [];
  #round = 0;
  /**
   * The current epoch of positions: the listed entries (a snapshot, never mutated) and an
   * append-only log of held entries. A position keeps both and its length, and builds its list
   * only when read (once per commit, when the sink serialises it). Null when the listed entries or
   * the held set changed other than by appending: the next position starts a new epoch.
   */
  #epoch: { readonly base: readonly string[]; readonly log: string[] } | null = null;

  constructor(maxCarried: number) {
    this.#maxCarried = maxCarried;
  }

  /** Messages yielded and not yet acknowledged. */
  get heldCount(): number {
    return this.#held.length;
  }

  /** Entries listed in positions besides the held ones. */
  get listedCount(): number {
    return this.#listed.size;
  }

  get seq(): number {
    return this.#seq;
  }

  /**
   * Starts over at a committed position (open or seek; the connection is new): held messages
   * will be redelivered, and every listed or held entry is now of unknown fate.
   */
  reset(position: SessionPosition | null): void {
    const previous = this.#listed;
    this.#listed = new Map();
    this.#seq = position?.seq ?? 0;
    for (const entry of position?.unacked ?? []) {
      const { messageId, hash } = parseEntry(entry);
      this.#listed.set(messageId, { hash, entry, state: 'carried', round: 0 });
    }
    // Acknowledged on the old connection but unconfirmed: the broker may still redeliver them.
    for (const [messageId, entry] of previous) {
      if (entry.state === 'acked' && !this.#listed.has(messageId)) {
        this.#listed.set(messageId, { hash: entry.hash, entry: entry.entry, state: 'carried', round: 0 });
      }
    }
    this.#held = [];
    this.#evict();
    this.#epoch = null;
  }

  /**
   * Classifies an arriving QoS 1/2 message. 'redelivery': committed before; the caller
   * acknowledges it and does not emit it. 'new': the caller yields it (see `hold`). A listed
   * packet id with other content means the broker reused the id, so the listed message is done.
   */
  arrive(messageId: number, hash: string): Arrival {
    const entry = this.#listed.get(messageId);
    if (entry === undefined) return 'new';
    if (entry.hash === hash && entry.state === 'carried') {
      entry.state = 'acked';
      entry.round = this.#round;
      return 'redelivery';
    }
    this.#listed.delete(messageId);
    this.#epoch = null;
    return 'new';
  }

  /**
   * Yields a message: returns its record position. `messageId` is undefined for QoS 0 (nothing
   * to acknowledge). The position lists every entry the broker may still redeliver, this one included.
   */
  hold(message: (ListedMessage & { readonly qos: 1 | 2 }) | undefined): SessionPosition {
    this.#seq += 1;
    if (message !== undefined) {
      const held = { ...message, seq: this.#seq, entry: encodeEntry(message) };
      this.#held.push(held);
      this.#epoch?.log.push(held.entry);
    }
    return this.position();
  }

  /** The position after everything yielded so far (immutable; O(1) until its list is read). */
  position(): SessionPosition {
    if (this.#epoch === null) {
      const base: string[] = [];
      for (const entry of this.#listed.values()) base.push(entry.entry);
      this.#epoch = { base, log: this.#held.map((message) => message.entry) };
    }
    return lazyPosition(this.#seq, this.#epoch.base, this.#epoch.log, this.#epoch.log.length);
  }

  /** The held messages a committed position covers, in arrival order: the caller acknowledges them. */
  acknowledge(committedSeq: number): HeldMessage[] {
    let count = 0;
    while (count < this.#held.length && this.#held[count]!.seq <= committedSeq) count += 1;
    const covered = this.#held.splice(0, count);
    for (const message of covered) {
      this.#listed.delete(message.messageId);
      this.#listed.set(message.messageId, {
        hash: message.hash,
        entry: message.entry,
        state: 'acked',
        round: this.#round,
      });
    }
    this.#evict();
    this.#epoch = null;
    return covered;
  }

  /** Closes the current confirmation round (a ping is about to be sent); returns its number. */
  sealRound(): number {
    const round = this.#round;
    this.#round += 1;
    return round;
  }

  /** The broker answered the ping of `round`: every acknowledgement sent before it was processed. */
  confirm(round: number): void {
    for (const [messageId, entry] of this.#listed) {
      if (entry.state === 'acked' && entry.round <= round) {
        this.#listed.delete(messageId);
        this.#epoch = null;
      }
    }
  }

  /** Bounds the watermark: forgets the oldest carried entries beyond the cap. */
  #evict(): void {
    if (this.#listed.size <= this.#maxCarried) return;
    for (const [messageId, entry] of this.#listed) {
      if (this.#listed.size <= this.#maxCarried) break;
      if (entry.state === 'carried') this.#listed.delete(messageId);
    }
    this.#epoch = null;
  }
}

/** A position whose `unacked` list is built on first read (JSON serialisation reads it too). */
function lazyPosition(
  seq: number,
  base: readonly string[],
  log: readonly string[],
  length: number,
): SessionPosition {
  let unacked: string[] | undefined;
  return {
    seq,
    get unacked(): string[] {
      unacked ??= base.concat(log.slice(0, length));
      return unacked;
    },
  };
}
