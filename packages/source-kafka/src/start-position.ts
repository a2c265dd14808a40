import { TidemarkError, type Watermark } from '@tidemark/sdk';
import type { KafkaSourceConfig } from './config.js';

/** A partition as the watermark names it: `<topic>/<partition>` (topic names cannot contain `/`). */
export function unitOf(topic: string, partition: number): string {
  return `${topic}/${partition}`;
}

/** Splits a watermark unit back into topic and partition; undefined for anything else. */
export function parseUnit(unit: string): { topic: string; partition: number } | undefined {
  const slash = unit.lastIndexOf('/');
  if (slash <= 0) return undefined;
  const partitionText = unit.slice(slash + 1);
  if (!/^\d+$/.test(partitionText)) return undefined;
  return { topic: unit.slice(0, slash), partition: Number(partitionText) };
}

/** Which start option decided where a partition begins, highest precedence first. */
export type StartRule =
  | { readonly kind: 'watermark'; readonly offset: bigint }
  | { readonly kind: 'startPositions'; readonly offset: bigint }
  | { readonly kind: 'startOffset'; readonly offset: bigint }
  | { readonly kind: 'startTime'; readonly time: number }
  | { readonly kind: 'earliest' }
  | { readonly kind: 'latest' };

export type StartOptions = Pick<KafkaSourceConfig, 'startPositions' | 'startOffset' | 'startTime' | 'start'>;

/**
 * Picks the start rule of one partition, by precedence: the committed watermark, then
 * `startPositions`, then `startOffset`, then `startTime`, then `start` (earliest/latest).
 *
 * A partition that appears after the source opened (`discoveredLater`) never uses
 * `startOffset`, `startTime` or `latest`: it starts at its watermark, its `startPositions`
 * entry, or its earliest offset, so records written to a new partition are never skipped.
 * Throws WATERMARK_INVALID when the watermark's position for the partition is not an offset.
 */
export function chooseStartRule(
  topic: string,
  partition: number,
  watermark: Watermark | null,
  options: StartOptions,
  discoveredLater: boolean,
): StartRule {
  const unit = unitOf(topic, partition);
  const committed = watermark?.[unit];
  if (committed !== undefined) return { kind: 'watermark', offset: parseOffset(committed, unit) };
  const explicit = options.startPositions?.find(
    (entry) => entry.topic === topic && entry.partition === partition,
  );
  if (explicit) return { kind: 'startPositions', offset: BigInt(explicit.offset) };
  if (discoveredLater) return { kind: 'earliest' };
  if (options.startOffset !== undefined) return { kind: 'startOffset', offset: BigInt(options.startOffset) };
  if (options.startTime !== undefined) return { kind: 'startTime', time: options.startTime };
  return { kind: options.start };
}

/** Offsets of one partition under read_committed: `low` is the log start, `high` the last stable offset. */
export interface PartitionBounds {
  readonly low: bigint;
  readonly high: bigint;
}

/** The offset a rule resolves to, and whether it had to be moved into the partition's bounds. */
export interface ResolvedStart {
  readonly offset: bigint;
  readonly clamped: boolean;
}

/**
 * Resolves a start rule to an offset inside `bounds`. `offsetForTime` is the broker's answer
 * for a `startTime` rule (the first offset at or after the time, or `high` when none).
 *
 * Explicit offsets outside the partition are clamped (below the log start: the records are
 * gone; above the end: start at the end). A watermark above the end means the topic was
 * deleted and recreated or truncated: WATERMARK_INVALID, since resuming there would silently
 * skip or repeat records.
 */
export function resolveStart(
  unit: string,
  rule: StartRule,
  bounds: PartitionBounds,
  offsetForTime?: bigint,
): ResolvedStart {
  switch (rule.kind) {
    case 'earliest':
      return { offset: bounds.low, clamped: false };
    case 'latest':
      return { offset: bounds.high, clamped: false };
    case 'startTime':
      return clamp(offsetForTime ?? bounds.high, bounds);
    case 'watermark':
      if (rule.offset > bounds.high) {
        throw new TidemarkError(
          'WATERMARK_INVALID',
          `committed watermark for ${unit} is offset ${rule.offset}, beyond the partition's end ${bounds.high}`,
          {
            fix: 'The topic was deleted and recreated or truncated; reset this pipeline deliberately (or restore the topic).',
            details: { unit, watermark: String(rule.offset), high: String(bounds.high) },
          },
        );
      }
      return clamp(rule.offset, bounds);
    default:
      return clamp(rule.offset, bounds);
  }
}

function clamp(offset: bigint, bounds: PartitionBounds): ResolvedStart {
  if (offset < bounds.low) return { offset: bounds.low, clamped: true };
  if (offset > bounds.high) return { offset: bounds.high, clamped: true };
  return { offset, clamped: false };
}

/** Parses a watermark position (decimal string or safe integer) as an offset. */
export function parseOffset(position: unknown, unit: string): bigint {
  if (typeof position === 'string' && /^\d+$/.test(position)) return BigInt(position);
  if (typeof position === 'number' && Number.isSafeInteger(position) && position >= 0)
    return BigInt(position);
  throw new TidemarkError(
    'WATERMARK_INVALID',
    `watermark position for ${unit} is ${JSON.stringify(position)}, not an offset`,
    {
      fix: 'Kafka watermark positions are decimal offset strings; check that the watermark belongs to this Kafka source.',
      details: { unit },
    },
  );
}
