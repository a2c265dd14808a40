import type { TidemarkRecord } from './record.js';
import type { ReadOptions, Source, SourceBatch, SourceProgress } from './source.js';
import type { Watermark } from './watermark.js';

/** How a pipeline promotes the rowtime of its records (the `rowtime:` section). */
export interface RowtimeRule {
  readonly from: 'provenance' | 'field';
  readonly column?: string | undefined;
  readonly field?: string | undefined;
  readonly format: 'auto' | 'epoch-ms' | 'epoch-s' | 'iso';
}

/** The unit of a numeric time value read from data (`rowtimeUnit`): ms unless the data says otherwise. */
export type RowtimeUnit = 'ms' | 's' | 'us' | 'ns';

/** Earliest rowtime accepted: 1970-01-01T00:00:00Z. */
export const MIN_ROWTIME_MS = 0;
/** Latest rowtime accepted: 9999-12-31T23:59:59.999Z (also the limit of `Date#toISOString`). */
export const MAX_ROWTIME_MS = 253_402_300_799_999;

const UNIT_DIVISORS: Record<RowtimeUnit, number> = { ms: 1, s: 1 / 1000, us: 1_000, ns: 1_000_000 };
const UNIT_NAMES: Record<RowtimeUnit, string> = {
  ms: 'milliseconds',
  s: 'seconds',
  us: 'microseconds',
  ns: 'nanoseconds',
};

/** True for an epoch-ms rowtime a sink can store and print: an integer in years 1970–9999. */
export function isSaneRowtime(epochMs: number): boolean {
  return Number.isSafeInteger(epochMs) && epochMs >= MIN_ROWTIME_MS && epochMs <= MAX_ROWTIME_MS;
}

/** Why `epochMs` is not a sane rowtime (see {@link isSaneRowtime}), or undefined when it is. */
export function rowtimeRangeError(epochMs: number, unit: RowtimeUnit = 'ms'): string | undefined {
  if (isSaneRowtime(epochMs)) return undefined;
  const guess =
    epochMs > MAX_ROWTIME_MS
      ? epochMs / 1_000_000 <= MAX_ROWTIME_MS && epochMs / 1_000_000 >= 1e11
        ? ' (it looks like nanoseconds: set rowtimeUnit: ns)'
        : epochMs / 1_000 <= MAX_ROWTIME_MS && epochMs / 1_000 >= 1e11
          ? ' (it looks like microseconds: set rowtimeUnit: us)'
          : ''
      : '';
  return `${epochMs} ${unit === 'ms' ? '' : `(read as ${UNIT_NAMES[unit]}) `}is outside the rowtime range of years 1970–9999 as epoch milliseconds${guess}`;
}

/**
 * Reads a time value as epoch milliseconds, or returns an error message. `auto` takes numbers
 * and decimal strings as epoch numbers in `unit` (milliseconds unless given) and other strings
 * as ISO-8601. A result outside years 1970–9999 is an error too (a time in another unit than
 * the one declared, usually). The one rule for every rowtime read from data: the pipeline's
 * `rowtime:` promotion and sources that read a time field (the file source's `rowtimeField`)
 * both use it.
 */
export function toEpochMs(
  value: unknown,
  format: RowtimeRule['format'],
  unit: RowtimeUnit = 'ms',
): number | string {
  if (value === null || value === undefined) return 'the value is missing';
  if (format === 'epoch-s' || format === 'epoch-ms' || (format === 'auto' && typeof value === 'number')) {
    const number =
      typeof value === 'number'
        ? value
        : typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value)
          ? Number(value)
          : NaN;
    const effective: RowtimeUnit = format === 'epoch-s' ? 's' : format === 'epoch-ms' ? 'ms' : unit;
    if (!Number.isFinite(number))
      return `${JSON.stringify(value)} is not a number of ${UNIT_NAMES[effective]}`;
    return inRange(Math.round(number / UNIT_DIVISORS[effective]), effective);
  }
  if (typeof value === 'string') {
    if (format === 'auto' && /^-?\d+(\.\d+)?$/.test(value.trim())) {
      return inRange(Math.round(Number(value) / UNIT_DIVISORS[unit]), unit);
    }
    const parsed = Date.parse(value);
    return Number.isFinite(parsed)
      ? inRange(parsed, 'ms')
      : `${JSON.stringify(value)} is not an ISO-8601 time`;
  }
  return `${JSON.stringify(value)} is not a time`;
}

function inRange(epochMs: number, unit: RowtimeUnit): number | string {
  return rowtimeRangeError(epochMs, unit) ?? epochMs;
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

/** Minimum time between two samples of `lag()` and `progress()` of one source. */
const SAMPLE_INTERVAL_MS = 5_000;

/** What {@link instrumentSource} adds to a source. */
export interface SourceInstruments {
  /** Promotes every record's rowtime by this rule; a record whose rowtime cannot be read becomes poison. */
  readonly rowtime?: RowtimeRule | undefined;
  readonly onLag?: ((lag: number) => void) | undefined;
  readonly onProgress?: ((progress: SourceProgress) => void) | undefined;
  readonly now?: () => number;
}

/**
 * Wraps a source so that every record it yields carries the promoted rowtime before the runtime
 * (commit policy by rowtime span) and the transforms see it, and samples `lag()` and
 * `progress()` between reads (never concurrently with them, at most every 5 s). Samples are
 * advisory: a failed one is skipped. Returns the source itself when there is nothing to add.
 */
export function instrumentSource(source: Source, instruments: SourceInstruments): Source {
  const { rowtime: rule, onLag, onProgress } = instruments;
  const now = instruments.now ?? Date.now;
  const sampleLag = onLag && source.lag ? source.lag.bind(source) : undefined;
  const sampleProgress = onProgress && source.progress ? source.progress.bind(source) : undefined;
  if (!rule && !sampleLag && !sampleProgress) return source;
  let lastSampleAt = Number.NEGATIVE_INFINITY;
  const promote = (record: TidemarkRecord): TidemarkRecord => {
    if (!rule || record.poison !== undefined) return record;
    const rowtime = promotedRowtime(record, rule);
    return typeof rowtime === 'number' ? { ...record, rowtime } : { ...record, poison: rowtime };
  };
  const sample = async (): Promise<void> => {
    if (now() - lastSampleAt < SAMPLE_INTERVAL_MS) return;
    lastSampleAt = now();
    try {
      const lag = await sampleLag?.();
      if (lag !== undefined) onLag?.(lag);
      const progress = await sampleProgress?.();
      if (progress !== undefined) onProgress?.(progress);
    } catch {
      // Advisory figures: a failed sample is skipped.
    }
  };
  return {
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
      if (sampleLag || sampleProgress) await sample();
      return rule ? { ...batch, records: batch.records.map(promote) } : batch;
    },
    seek: (watermark: Watermark | null) => source.seek(watermark),
    acknowledge: (watermark: Watermark) => source.acknowledge(watermark),
    close: () => source.close(),
    ...(source.lag ? { lag: () => source.lag!() } : {}),
    ...(source.progress ? { progress: () => source.progress!() } : {}),
    ...(source.watermarkAt ? { watermarkAt: source.watermarkAt.bind(source) } : {}),
  };
}
