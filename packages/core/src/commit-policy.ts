import { TidemarkError } from './errors.js';

/**
 * When the runtime commits the open transaction. Whichever limit is reached first wins.
 * `rowtimeSpanMs` aligns commits to rowtime boundaries (SQLstream's TRANSACTION_ROWTIME_LIMIT):
 * a record whose rowtime falls in a later span than the transaction's first record starts a new
 * transaction, so every transaction holds rows of one rowtime span.
 */
export interface CommitPolicy {
  /** Commit after this many records. */
  readonly maxRecords: number;
  /** Commit after this many payload bytes. */
  readonly maxBytes: number;
  /**
   * Commit when the transaction has been open this long (ms). The first transaction after an
   * open or a rewind commits earlier: once a read returns less than a full batch.
   */
  readonly maxWallMs: number;
  /** Rowtime span (ms) a transaction may not cross; null disables. */
  readonly rowtimeSpanMs: number | null;
  /** Re-commit unchanged watermarks of an idle pipeline this often (ms), so they do not expire. */
  readonly idleRecommitMs: number;
}

export const DEFAULT_COMMIT_POLICY: CommitPolicy = Object.freeze({
  maxRecords: 50_000,
  maxBytes: 32 * 1024 * 1024,
  maxWallMs: 1_000,
  rowtimeSpanMs: null,
  idleRecommitMs: 60 * 60 * 1000,
});

export function resolveCommitPolicy(partial: Partial<CommitPolicy> = {}): CommitPolicy {
  const policy = { ...DEFAULT_COMMIT_POLICY, ...stripUndefined(partial) };
  for (const key of ['maxRecords', 'maxBytes', 'maxWallMs', 'idleRecommitMs'] as const) {
    if (!(policy[key] > 0)) {
      throw new TidemarkError(
        'CONFIG_INVALID',
        `commit.${key} must be a positive number, got ${policy[key]}`,
      );
    }
  }
  if (policy.rowtimeSpanMs !== null && !(policy.rowtimeSpanMs > 0)) {
    throw new TidemarkError('CONFIG_INVALID', `commit.rowtimeSpanMs must be positive or null`);
  }
  return policy;
}

/** The rowtime span a rowtime belongs to under `spanMs` (aligned to multiples of the span). */
export function rowtimeSpanOf(rowtime: number, spanMs: number): number {
  return Math.floor(rowtime / spanMs);
}

/** Retries after failures: exponential backoff with jitter, bounded by a budget. */
export interface RetryPolicy {
  /**
   * Consecutive failures (without a successful cycle, i.e. a commit or an idle poll, in
   * between) the pipeline retries; the next one stops it with RETRIES_EXHAUSTED.
   */
  readonly maxConsecutiveFailures: number;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  maxConsecutiveFailures: 10,
  initialBackoffMs: 200,
  maxBackoffMs: 30_000,
});

/** Backoff before attempt `failures` (1-based): exponential, capped, with ±50% jitter. */
export function backoffMs(policy: RetryPolicy, failures: number, random: () => number = Math.random): number {
  const base = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** Math.max(0, failures - 1));
  return Math.round(base * (0.5 + random() / 2));
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
