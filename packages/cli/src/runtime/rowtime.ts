import type { ReadOptions, Source, SourceBatch, TidemarkRecord, Watermark } from '@tidemark/core';

/** How a pipeline promotes the rowtime of its records (the `rowtime:` section). */
export interface RowtimeRule {
  readonly from: 'provenance' | 'field';
  readonly column?: string | undefined;
  readonly field?: string | undefined;
  readonly format: 'auto' | 'epoch-ms' | 'epoch-s' | 'iso';
}

/** Reads a time value as epoch milliseconds, or returns an error message. */
export function toEpochMs(value: unknown, format: RowtimeRule['format']): number | string {
  if (value === null || value === undefined) return 'the value is missing';
  if (format === 'epoch-s' || format === 'epoch-ms' || (format === 'auto' && typeof value === 'number')) {
    const number =
      typeof value === 'number'
        ? value
        : typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value)
          ? Number(value)
          : NaN;
    if (!Number.isFinite(number))
      return `${JSON.stringify(value)} is not a number of ${format === 'epoch-s' ? 'seconds' : 'milliseconds'}`;
    return Math.round(format === 'epoch-s' ? number * 1000 : number);
  }
  if (typeof value === 'string') {
    if (format === 'auto' && /^\d+$/.test(value)) return Number(value);
    const parsed = Date.parse(value);
    return Number.isFinite(parsed) ? parsed : `${JSON.stringify(value)} is not an ISO-8601 time`;
  }
  return `${JSON.stringify(value)} is not a time`;
}

/** Computes the promoted rowtime of `record`, or an error message (the record is then poison). */
export function promotedRowtime(record: TidemarkRecord, rule: RowtimeRule): number | string {
  if (rule.from === 'provenance') {
    return toEpochMs(record.provenance[rule.column ?? ''], rule.format);
  }
  if (record.value === null) return 'the record has no value to read the rowtime field from';
  let document: unknown;
  try {
    document = JSON.parse(Buffer.from(record.value).toString('utf8'));
  } catch {
    return 'the record value is not JSON, so rowtime field cannot be read';
  }
  let current = document;
  for (const segment of (rule.field ?? '').split('.')) {
    if (current === null || typeof current !== 'object') return `rowtime field '${rule.field}' is missing`;
    current = (current as Record<string, unknown>)[segment];
  }
  const result = toEpochMs(current, rule.format);
  return typeof result === 'string' ? `rowtime field '${rule.field}': ${result}` : result;
}

/** Minimum time between two `lag()` calls of one source. */
const LAG_INTERVAL_MS = 5_000;

/**
 * Wraps a source so that every record it yields carries the promoted rowtime before the runtime
 * (commit policy by rowtime span) and the transforms see it. A record whose rowtime cannot be
 * read is marked poison, so the pipeline's poison policy applies. Also samples `lag()` between
 * reads (never concurrently with them) and reports it through `onLag`.
 */
export function decorateSource(
  source: Source,
  rule: RowtimeRule | undefined,
  onLag: ((lag: number) => void) | undefined,
  now: () => number = Date.now,
): Source {
  let lastLagAt = 0;
  const promote = (record: TidemarkRecord): TidemarkRecord => {
    if (!rule || record.poison !== undefined) return record;
    const rowtime = promotedRowtime(record, rule);
    return typeof rowtime === 'number' ? { ...record, rowtime } : { ...record, poison: rowtime };
  };
  const decorated: Source = {
    get name() {
      return source.name;
    },
    get provenance() {
      return source.provenance;
    },
    get capabilities() {
      return source.capabilities;
    },
    open: (watermark: Watermark | null) => source.open(watermark),
    async read(options: ReadOptions): Promise<SourceBatch> {
      const batch = await source.read(options);
      if (onLag && source.lag && now() - lastLagAt >= LAG_INTERVAL_MS) {
        lastLagAt = now();
        try {
          const lag = await source.lag();
          if (lag !== undefined) onLag(lag);
        } catch {
          // Lag is advisory: a failed sample is skipped.
        }
      }
      return rule ? { ...batch, records: batch.records.map(promote) } : batch;
    },
    seek: (watermark: Watermark | null) => source.seek(watermark),
    acknowledge: (watermark: Watermark) => source.acknowledge(watermark),
    close: () => source.close(),
  };
  return decorated;
}
