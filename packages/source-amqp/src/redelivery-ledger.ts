import { type RedeliverPosition, splitIdentities } from './watermark.js';

/** One message returned to the runtime and not yet known to be committed. */
interface InFlight {
  readonly identity: string;
  readonly deliveryTag: number;
  /** The position count after this message. */
  readonly count: number;
}

/** What the ledger decides for a delivery. */
export type DeliveryOutcome =
  | { readonly skip: true }
  | { readonly skip: false; readonly position: RedeliverPosition };

/**
 * The bookkeeping of one classic or quorum queue read in `redeliver` mode. Pure: no I/O; the
 * reader sends the acknowledgements it asks for and reports when the broker confirmed them.
 *
 * - `committed`: identities the committed watermark lists (committed, acknowledgement not
 *   confirmed) minus those confirmed since. A multiset: identical messages count separately.
 * - `recognisable`: the part of `committed` not yet seen on the current consumer. A redelivered
 *   message whose identity is here is a message already in the sink: skip it and acknowledge it.
 * - `inFlight`: messages returned to the runtime on the current consumer and not yet known to
 *   be committed, in delivery order.
 *
 * An identity leaves the watermark once its acknowledgement is confirmed (a round trip on the
 * channel after the ack), or when it was not redelivered within `forgetAfterMs` of a consumer
 * start (its acknowledgement reached the broker before a crash). `dirty` says the committed
 * list shrank and the next read should carry the smaller position as an `advance`.
 */
export class RedeliveryLedger {
  dirty = false;
  #committed = new Map<string, number>();
  /** `committed` as a position string; recomputed only when `committed` changes. */
  #committedText: string | null = null;
  #recognisable = new Map<string, number>();
  #inFlight: InFlight[] = [];
  /** The identities of `inFlight`, concatenated (a rope: appending is constant time). */
  #inFlightText = '';
  /** Identities confirmed acknowledged that the latest acknowledged watermark still lists. */
  #confirmed = new Map<string, number>();
  #count = 0;
  #acknowledgedCount = -1;

  /** open and seek: back to `position` (null: nothing committed); in-flight messages are gone. */
  reset(position: RedeliverPosition | null): void {
    const listed = counts(splitIdentities(position?.unacked ?? ''));
    const confirmed = new Map<string, number>();
    for (const [identity, times] of this.#confirmed) {
      const both = Math.min(times, listed.get(identity) ?? 0);
      if (both > 0) confirmed.set(identity, both);
    }
    for (const [identity, times] of confirmed) subtract(listed, identity, times);
    this.#confirmed = confirmed;
    this.#committed = listed;
    this.#committedText = null;
    this.#recognisable = new Map(listed);
    this.#inFlight = [];
    this.#inFlightText = '';
    this.#count = position?.count ?? 0;
    this.dirty = false;
  }

  /** A delivery on the current consumer. */
  deliver(identity: string, deliveryTag: number, redelivered: boolean): DeliveryOutcome {
    if (redelivered && (this.#recognisable.get(identity) ?? 0) > 0) {
      subtract(this.#recognisable, identity, 1);
      return { skip: true };
    }
    this.#count += 1;
    this.#inFlight.push({ identity, deliveryTag, count: this.#count });
    this.#inFlightText += identity;
    this.dirty = false;
    return { skip: false, position: this.position() };
  }

  /** The position after everything delivered so far. Constant time (string concatenation). */
  position(): RedeliverPosition {
    this.#committedText ??= expand(this.#committed);
    return { count: this.#count, unacked: this.#committedText + this.#inFlightText };
  }

  /**
   * acknowledge(position): the in-flight messages `position` covers are committed; they move
   * to `committed` until their acknowledgement is confirmed. Returns the highest delivery tag
   * to acknowledge (with `multiple`), or null, and the identities to pass to {@link confirm}
   * once the broker confirmed.
   */
  committedUpTo(position: RedeliverPosition): { deliveryTag: number | null; identities: string[] } {
    if (position.count >= this.#acknowledgedCount) {
      this.#acknowledgedCount = position.count;
      const listed = counts(splitIdentities(position.unacked));
      for (const [identity, times] of [...this.#confirmed]) {
        const keep = Math.min(times, listed.get(identity) ?? 0);
        if (keep > 0) this.#confirmed.set(identity, keep);
        else this.#confirmed.delete(identity);
      }
    }
    let index = 0;
    while (index < this.#inFlight.length && this.#inFlight[index]!.count <= position.count) index += 1;
    if (index === 0) return { deliveryTag: null, identities: [] };
    const done = this.#inFlight.splice(0, index);
    this.#inFlightText = this.#inFlight.map((entry) => entry.identity).join('');
    for (const entry of done) add(this.#committed, entry.identity);
    this.#committedText = null;
    return {
      deliveryTag: done[done.length - 1]!.deliveryTag,
      identities: done.map((entry) => entry.identity),
    };
  }

  /**
   * The broker confirmed the acknowledgement of these committed messages (in-flight ones after
   * {@link committedUpTo}, or skipped redeliveries): they leave the watermark.
   */
  confirm(identities: readonly string[]): void {
    for (const identity of identities) {
      if (subtract(this.#committed, identity, 1)) add(this.#confirmed, identity);
    }
    this.#committedText = null;
    if (identities.length > 0) this.dirty = true;
  }

  /** Committed identities not redelivered on the current consumer (yet). */
  get unseen(): number {
    let total = 0;
    for (const times of this.#recognisable.values()) total += times;
    return total;
  }

  /** Forgets the committed identities not redelivered: their acknowledgement reached the broker. */
  forgetUnseen(): void {
    if (this.#recognisable.size === 0) return;
    for (const [identity, times] of this.#recognisable) subtract(this.#committed, identity, times);
    this.#recognisable.clear();
    this.#committedText = null;
    this.dirty = true;
  }
}

function counts(identities: readonly string[]): Map<string, number> {
  const map = new Map<string, number>();
  for (const identity of identities) add(map, identity);
  return map;
}

function add(map: Map<string, number>, identity: string): void {
  map.set(identity, (map.get(identity) ?? 0) + 1);
}

/** Removes up to `times` occurrences; true when at least one was there. */
function subtract(map: Map<string, number>, identity: string, times: number): boolean {
  const present = map.get(identity) ?? 0;
  if (present === 0) return false;
  if (present <= times) map.delete(identity);
  else map.set(identity, present - times);
  return true;
}

function expand(map: Map<string, number>): string {
  let text = '';
  for (const [identity, times] of map) text += identity.repeat(times);
  return text;
}
