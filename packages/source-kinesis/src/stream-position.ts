import { type JsonValue, TidemarkError } from '@tidemark/sdk';

/**
 * The watermark value of one stream (unit = stream name). Pure codec and lineage rules, no I/O.
 *
 *   { "shards": { "<shard id>": "<sequence number>" | "<sequence number>:<sub>" },
 *     "finished": ["<shard id>", …],
 *     "from": <epoch ms>  (optional) }
 *
 * - `shards`: the position after the last record delivered from each shard that has delivered
 *   one and is not finished. `"<seq>"` means the whole record `<seq>` was delivered (resume
 *   AFTER_SEQUENCE_NUMBER); `"<seq>:<n>"` means user records 0..n of the aggregated record
 *   `<seq>` were delivered and more follow (resume AT_SEQUENCE_NUMBER, skipping 0..n).
 * - `finished`: closed shards read to their end whose children have not delivered anything
 *   yet. A shard is done when it is listed here, or when one of its children has a position or
 *   is done itself (children start only after their parents are done), or when the stream no
 *   longer lists it (trimmed away). So a finished id is dropped as soon as a child has a
 *   position or is finished: the value holds the frontier of the shard lineage only, and stays
 *   bounded by the number of open shards however often the stream is resharded.
 * - `from`: shards without a position and without a done ancestor-chain start AT_TIMESTAMP
 *   `from`; without it they start at TRIM_HORIZON.
 */
export interface StreamPosition {
  readonly shards: Readonly<Record<string, string>>;
  readonly finished: readonly string[];
  readonly from?: number;
}

/** A shard as ListShards describes it. */
export interface ShardLineage {
  readonly shardId: string;
  /** ParentShardId and AdjacentParentShardId, where present. */
  readonly parents: readonly string[];
  /** True when the shard has an EndingSequenceNumber (closed by a split or merge). */
  readonly closed: boolean;
}

/** Where one shard's reading resumes, as an iterator request. */
export type ShardStart =
  | { readonly type: 'TRIM_HORIZON' }
  | { readonly type: 'AT_TIMESTAMP'; readonly time: number }
  | { readonly type: 'AFTER_SEQUENCE_NUMBER'; readonly sequenceNumber: string }
  | { readonly type: 'AT_SEQUENCE_NUMBER'; readonly sequenceNumber: string; readonly skipThrough: number };

const SEQUENCE = /^\d{1,128}$/;
const SHARD_POSITION = /^(\d{1,128})(?::(\d{1,9}))?$/;

export function emptyStreamPosition(from?: number): StreamPosition {
  return from === undefined ? { shards: {}, finished: [] } : { shards: {}, finished: [], from };
}

/** Encodes the position after user record `sub` of `last` in its record (`last`: the final one). */
export function shardPositionAfter(sequenceNumber: string, sub: number, last: boolean): string {
  return last ? sequenceNumber : `${sequenceNumber}:${sub}`;
}

/** The iterator request that resumes just after `position` (a value of `shards`). */
export function startAfter(position: string): ShardStart {
  const match = SHARD_POSITION.exec(position);
  if (!match) throw invalid(`shard position ${JSON.stringify(position)}`);
  const [, sequenceNumber, sub] = match;
  return sub === undefined
    ? { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: sequenceNumber! }
    : { type: 'AT_SEQUENCE_NUMBER', sequenceNumber: sequenceNumber!, skipThrough: Number(sub) };
}

/** Compares two sequence numbers (decimal strings of up to 128 digits) numerically. */
export function compareSequenceNumbers(a: string, b: string): number {
  const left = BigInt(a);
  const right = BigInt(b);
  return left < right ? -1 : left > right ? 1 : 0;
}

/** Validates a watermark value of one stream; throws WATERMARK_INVALID on anything else. */
export function parseStreamPosition(
  stream: string,
  value: JsonValue | undefined,
): StreamPosition | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(`the watermark of stream ${stream} is not an object`);
  }
  const { shards, finished, from } = value as Record<string, JsonValue>;
  if (typeof shards !== 'object' || shards === null || Array.isArray(shards)) {
    throw invalid(`the watermark of stream ${stream} has no shards map`);
  }
  const positions: Record<string, string> = {};
  for (const [shardId, position] of Object.entries(shards)) {
    if (typeof position !== 'string' || !SHARD_POSITION.test(position)) {
      throw invalid(
        `the watermark of stream ${stream} has position ${JSON.stringify(position)} for ${shardId}`,
      );
    }
    positions[shardId] = position;
  }
  if (!Array.isArray(finished) || !finished.every((shardId) => typeof shardId === 'string')) {
    throw invalid(`the watermark of stream ${stream} has no list of finished shards`);
  }
  if (from !== undefined && (typeof from !== 'number' || !Number.isFinite(from) || from < 0)) {
    throw invalid(`the watermark of stream ${stream} has start time ${JSON.stringify(from)}`);
  }
  const result: StreamPosition = { shards: positions, finished: finished as string[] };
  return from === undefined ? result : { ...result, from };
}

/** The lineage rules over one listing of a stream's shards. */
export class ShardTree {
  readonly #shards = new Map<string, ShardLineage>();
  readonly #children = new Map<string, string[]>();

  constructor(shards: readonly ShardLineage[]) {
    for (const shard of shards) this.#shards.set(shard.shardId, shard);
    for (const shard of shards) {
      for (const parent of shard.parents) {
        const list = this.#children.get(parent) ?? [];
        list.push(shard.shardId);
        this.#children.set(parent, list);
      }
    }
  }

  has(shardId: string): boolean {
    return this.#shards.has(shardId);
  }

  get(shardId: string): ShardLineage | undefined {
    return this.#shards.get(shardId);
  }

  /** True when every record of `shardId` was delivered (see {@link StreamPosition}). */
  isDone(shardId: string, position: StreamPosition): boolean {
    return this.#doneTest(position)(shardId);
  }

  /** Shards that may be read now: not done, and every parent done. In listing order. */
  readable(position: StreamPosition): ShardLineage[] {
    const isDone = this.#doneTest(position);
    return [...this.#shards.values()].filter(
      (shard) => !isDone(shard.shardId) && shard.parents.every((parent) => isDone(parent)),
    );
  }

  /**
   * The done test of one position, memoised: a lineage of splits and merges is a DAG whose
   * paths multiply with every split-then-merge, so the naive recursion would be exponential.
   */
  #doneTest(position: StreamPosition): (shardId: string) => boolean {
    const finished = new Set(position.finished);
    const memo = new Map<string, boolean>();
    const isDone = (shardId: string): boolean => {
      if (!this.#shards.has(shardId) || finished.has(shardId)) return true;
      const known = memo.get(shardId);
      if (known !== undefined) return known;
      const done = (this.#children.get(shardId) ?? []).some(
        (child) => child in position.shards || isDone(child),
      );
      memo.set(shardId, done);
      return done;
    };
    return isDone;
  }

  /** Where a readable shard starts: after its position, else at the stream's start. */
  startOf(shardId: string, position: StreamPosition): ShardStart {
    const at = position.shards[shardId];
    if (at !== undefined) return startAfter(at);
    return position.from === undefined
      ? { type: 'TRIM_HORIZON' }
      : { type: 'AT_TIMESTAMP', time: position.from };
  }

  /**
   * Drops what the lineage already implies: finished ids with a child that has a position or
   * is finished, and ids the stream no longer lists (trimmed). Returns `position` itself when
   * nothing changes.
   */
  compact(position: StreamPosition): StreamPosition {
    const isDone = this.#doneTest(position);
    const finished = position.finished.filter(
      (shardId) =>
        this.#shards.has(shardId) &&
        !(this.#children.get(shardId) ?? []).some((child) => child in position.shards || isDone(child)),
    );
    let shards = position.shards;
    if (Object.keys(shards).some((shardId) => !this.#shards.has(shardId))) {
      shards = Object.fromEntries(Object.entries(shards).filter(([shardId]) => this.#shards.has(shardId)));
    }
    if (finished.length === position.finished.length && shards === position.shards) return position;
    return { ...position, shards, finished };
  }

  /** `position` with `shardId` read to its end. */
  finish(shardId: string, position: StreamPosition): StreamPosition {
    const { [shardId]: _dropped, ...shards } = position.shards;
    const finished = position.finished.includes(shardId)
      ? position.finished
      : [...position.finished, shardId];
    return this.compact({ ...position, shards, finished });
  }
}

/** `position` with `shardId` moved to `shardPosition`; compacts when the shard had none before. */
export function advanceShard(
  tree: ShardTree,
  position: StreamPosition,
  shardId: string,
  shardPosition: string,
): StreamPosition {
  const first = !(shardId in position.shards);
  const next = { ...position, shards: { ...position.shards, [shardId]: shardPosition } };
  return first ? tree.compact(next) : next;
}

/** Checks a sequence number from the service or a user. */
export function isSequenceNumber(text: string): boolean {
  return SEQUENCE.test(text);
}

function invalid(message: string): TidemarkError {
  return new TidemarkError('WATERMARK_INVALID', message, {
    fix: 'Reset the watermark of this source (`tidemark watermarks reset`) or restore the one this source wrote.',
  });
}
