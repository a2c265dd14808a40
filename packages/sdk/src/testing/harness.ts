import {
  advanceWatermark,
  type ConnectorContext,
  comparePositions,
  type JsonValue,
  jsonEqual,
  mergeWatermarks,
  type Source,
  type SourceConnector,
  silentLogger,
  type TidemarkRecord,
  type Watermark,
} from '@tidemark/core';
import type { z } from 'zod';
import { parseConnectorConfig } from '../spec/config.js';
import { assertExactlyOnce } from './assertions.js';

/** What a plugin hands the conformance kit. */
export interface SourceConformanceOptions<Schema extends z.ZodType = z.ZodType> {
  /** The connector under test (the plugin's default export). */
  readonly connector: SourceConnector<Schema>;
  /**
   * The raw configuration (as a user would write it in YAML) of a source reading the data that
   * `produce` writes, starting at the earliest record. Called after `setup`, once per instance.
   */
  readonly config: () => unknown | Promise<unknown>;
  /** Appends `count` new records to the source's data; returns their ids in append order. */
  readonly produce: (count: number) => Promise<readonly string[]>;
  /** The id `produce` gave the record (usually parsed from its value or key). */
  readonly idOf: (record: TidemarkRecord) => string;
  /** A configuration the schema must reject: the kit expects a ConfigError listing its issues. */
  readonly badConfig: unknown;
  /**
   * Runs before every case and must leave the source empty (a fresh topic, directory, log…):
   * every case produces its own records and expects to read exactly those.
   */
  readonly setup?: () => unknown | Promise<unknown>;
  /** Runs after every case, even a failed one. */
  readonly cleanup?: () => unknown | Promise<unknown>;
  /** Records each case produces. Default 12. */
  readonly recordCount?: number;
  /** `maxRecords` of each read (small, so cases cross many batch boundaries). Default 4. */
  readonly batchSize?: number;
  /** How many crash points (steps of open → read → read → commit → acknowledge …) to test. Default 9. */
  readonly crashPoints?: number;
  /** How long reading the expected records may take. Default 15 s. */
  readonly readTimeoutMs?: number;
  /** How long a read must stay empty to show that nothing more comes. Default 300 ms. */
  readonly quietMs?: number;
  /** How long handles may take to go away after `close`. Default 2 s. */
  readonly settleMs?: number;
  /** Timeout of each case. Default 120 s. */
  readonly caseTimeoutMs?: number;
  /** Provenance columns that may legitimately be null on some records. */
  readonly nullableProvenance?: readonly string[];
  /**
   * Orders two positions of one unit (<0, 0, >0) when they are not integers or decimal strings
   * (which the kit compares itself). Without it, non-scalar positions only have to change.
   */
  readonly comparePositions?: (a: JsonValue, b: JsonValue, unit: string) => number;
  /** Title of the vitest `describe` block. Default `source conformance: <type>`. */
  readonly title?: string;
}

/** Resolved settings with defaults applied. */
export interface ConformanceSettings {
  readonly recordCount: number;
  readonly batchSize: number;
  readonly crashPoints: number;
  readonly readTimeoutMs: number;
  readonly quietMs: number;
  readonly settleMs: number;
  readonly caseTimeoutMs: number;
}

export function resolveSettings(options: SourceConformanceOptions): ConformanceSettings {
  return {
    recordCount: options.recordCount ?? 12,
    batchSize: options.batchSize ?? 4,
    crashPoints: options.crashPoints ?? 9,
    readTimeoutMs: options.readTimeoutMs ?? 15_000,
    quietMs: options.quietMs ?? 300,
    settleMs: options.settleMs ?? 2_000,
    caseTimeoutMs: options.caseTimeoutMs ?? 120_000,
  };
}

/** One source instance the kit created, with the abort controller behind its context signal. */
export interface SourceInstance {
  readonly source: Source;
  readonly controller: AbortController;
}

/** What a sequence of reads returned. */
export interface ReadResult {
  readonly records: readonly TidemarkRecord[];
  /** `watermarks[i]`: the watermark covering records 0..i (batch `advance` folded at batch end). */
  readonly watermarks: readonly Watermark[];
  /** The watermark after everything read. */
  readonly watermark: Watermark;
  readonly ended: boolean;
}

/** The kit's stand-in for the runtime: creates instances, reads, and checks every record. */
export class ConformanceKit {
  readonly options: SourceConformanceOptions;
  readonly settings: ConformanceSettings;
  readonly #instances: SourceInstance[] = [];

  constructor(options: SourceConformanceOptions) {
    this.options = options;
    this.settings = resolveSettings(options);
  }

  /** Parses the plugin's config like the runtime does and creates an unopened instance. */
  async create(): Promise<SourceInstance> {
    const raw = await this.options.config();
    const config = parseConnectorConfig(this.options.connector, raw, 'sources[0]');
    const controller = new AbortController();
    const context: ConnectorContext = {
      name: 'conformance',
      logger: silentLogger,
      signal: controller.signal,
    };
    const source = this.options.connector.create(config, context);
    const instance = { source, controller };
    this.#instances.push(instance);
    return instance;
  }

  /** Creates an instance and opens it at `watermark`. */
  async open(watermark: Watermark | null): Promise<SourceInstance> {
    const instance = await this.create();
    await instance.source.open(watermark);
    return instance;
  }

  /** Simulates a crash of the process: aborts the context signal and closes without ceremony. */
  async crash(instance: SourceInstance): Promise<void> {
    instance.controller.abort();
    await instance.source.close();
  }

  /** Closes every instance this kit created (after a case, pass or fail). Errors are ignored. */
  async closeAll(): Promise<void> {
    for (const instance of this.#instances.splice(0)) {
      instance.controller.abort();
      try {
        await instance.source.close();
      } catch {
        // The case already reported what matters; leaking here would only hide it.
      }
    }
  }

  /** Reads one batch of at most `maxRecords` and checks each record. */
  async readBatch(source: Source, maxWaitMs = 200, maxRecords = this.settings.batchSize) {
    const batch = await source.read({
      signal: new AbortController().signal,
      maxRecords,
      maxBytes: 1024 * 1024,
      maxWaitMs,
    });
    if (!batch || !Array.isArray(batch.records)) {
      throw new Error(`read() must return { records: [...] }, got ${JSON.stringify(batch)}`);
    }
    if (batch.records.length > maxRecords) {
      throw new Error(`read() returned ${batch.records.length} records, more than maxRecords=${maxRecords}`);
    }
    for (const record of batch.records) this.checkRecord(record);
    return batch;
  }

  /**
   * Reads until `count` records arrived (or a bounded source ended), checking every record and
   * that positions move forward from `base`. Fails with the ids read so far after `readTimeoutMs`.
   */
  async readRecords(source: Source, count: number, base: Watermark | null = null): Promise<ReadResult> {
    const records: TidemarkRecord[] = [];
    const watermarks: Watermark[] = [];
    let watermark: Watermark = base ?? {};
    let ended = false;
    const deadline = Date.now() + this.settings.readTimeoutMs;
    while (records.length < count && !ended) {
      if (Date.now() > deadline) {
        throw new Error(
          `expected ${count} records within ${this.settings.readTimeoutMs} ms, read ${records.length}: [${records
            .map((record) => this.options.idOf(record))
            .join(', ')}]`,
        );
      }
      const batch = await this.readBatch(source);
      for (const record of batch.records) {
        this.checkForward(watermark, record);
        watermark = advanceWatermark(watermark, [record.position]);
        records.push(record);
        watermarks.push(watermark);
      }
      if (batch.advance) {
        watermark = mergeWatermarks(watermark, batch.advance);
        if (watermarks.length > 0) watermarks[watermarks.length - 1] = watermark;
      }
      if (batch.end) ended = true;
    }
    return { records, watermarks, watermark, ended };
  }

  /** Fails when a read within `quietMs` returns any record (the source should be drained). */
  async expectNothingMore(source: Source, context: string): Promise<void> {
    const batch = await this.readBatch(source, this.settings.quietMs);
    if (batch.records.length > 0) {
      throw new Error(
        `${context}: expected no more records, got ${batch.records.length}: [${batch.records.map((record) => this.options.idOf(record)).join(', ')}]`,
      );
    }
  }

  /** The watermark after the first `cut` records of `read` (null for 0: the configured start). */
  watermarkAt(read: ReadResult, cut: number): Watermark | null {
    return cut === 0 ? null : (read.watermarks[cut - 1] ?? null);
  }

  ids(records: readonly TidemarkRecord[]): string[] {
    return records.map((record) => this.options.idOf(record));
  }

  /**
   * Fails unless `actual` holds exactly the records of `expected` (no duplicates, no gaps, no
   * strangers) and, within each unit, in the same order.
   */
  assertSameRecords(
    actual: readonly TidemarkRecord[],
    expected: readonly TidemarkRecord[],
    label: string,
  ): void {
    assertExactlyOnce(this.ids(actual), this.ids(expected), label);
    const byUnit = (records: readonly TidemarkRecord[]) => {
      const units = new Map<string, string[]>();
      for (const record of records) {
        const list = units.get(record.position.unit) ?? [];
        list.push(this.options.idOf(record));
        units.set(record.position.unit, list);
      }
      return units;
    };
    const actualUnits = byUnit(actual);
    for (const [unit, expectedIds] of byUnit(expected)) {
      const actualIds = actualUnits.get(unit) ?? [];
      const index = expectedIds.findIndex((id, position) => actualIds[position] !== id);
      if (index >= 0) {
        throw new Error(
          `${label}: unit ${JSON.stringify(unit)} out of order at index ${index}: expected ${expectedIds[index]}, got ${actualIds[index]}`,
        );
      }
    }
  }

  /** Checks the shape of one record: provenance, position, rowtime, key/value/headers. */
  checkRecord(record: TidemarkRecord): void {
    const { connector, nullableProvenance = [] } = this.options;
    const where = () => {
      try {
        return `record ${JSON.stringify(this.options.idOf(record))}`;
      } catch {
        return `record at ${JSON.stringify(record.position)}`;
      }
    };
    if (typeof record !== 'object' || record === null)
      throw new Error(`read() returned a non-object record: ${String(record)}`);
    if (!record.position || typeof record.position.unit !== 'string' || record.position.unit === '') {
      throw new Error(
        `${where()}: position.unit must be a non-empty string, got ${JSON.stringify(record.position)}`,
      );
    }
    if (!survivesJson(record.position.next)) {
      throw new Error(
        `${where()}: position.next ${String(record.position.next)} does not survive a JSON round trip`,
      );
    }
    if (typeof record.rowtime !== 'number' || !Number.isFinite(record.rowtime)) {
      throw new Error(`${where()}: rowtime must be finite epoch milliseconds, got ${String(record.rowtime)}`);
    }
    for (const field of ['key', 'value'] as const) {
      const value = record[field];
      if (value !== null && !(value instanceof Uint8Array))
        throw new Error(`${where()}: ${field} must be a Uint8Array or null`);
    }
    for (const [name, value] of Object.entries(record.headers ?? {})) {
      if (typeof value !== 'string') throw new Error(`${where()}: header ${name} must be a string`);
    }
    const provenance = record.provenance ?? {};
    const declared = new Set(connector.provenance.map((column) => column.name));
    for (const name of Object.keys(provenance)) {
      if (!declared.has(name))
        throw new Error(`${where()}: provenance column ${name} is not declared by the connector`);
    }
    for (const column of connector.provenance) {
      const value = provenance[column.name];
      if (value === undefined) throw new Error(`${where()}: provenance column ${column.name} is missing`);
      if (value === null) {
        if (nullableProvenance.includes(column.name)) continue;
        throw new Error(
          `${where()}: provenance column ${column.name} is null (declare it in nullableProvenance if that is legitimate)`,
        );
      }
      if (!(PROVENANCE_TYPE_CHECKS[column.type] ?? unknownType)(value)) {
        throw new Error(
          `${where()}: provenance column ${column.name} must be a ${PROVENANCE_TYPE_NAMES[column.type]}, got ${JSON.stringify(value)}`,
        );
      }
    }
  }

  /** Fails when `record` does not move its unit's position forward from `watermark`. */
  checkForward(watermark: Watermark, record: TidemarkRecord): void {
    const { unit, next } = record.position;
    const previous = watermark[unit];
    if (previous === undefined) return;
    const order = this.compare(previous, next, unit);
    if (order === undefined ? jsonEqual(previous, next) : order >= 0) {
      throw new Error(
        `record ${JSON.stringify(this.options.idOf(record))}: position of unit ${JSON.stringify(unit)} moved from ${JSON.stringify(previous)} to ${JSON.stringify(next)}, not forward`,
      );
    }
  }

  /** Orders two positions; undefined when they are not comparable. */
  compare(a: JsonValue, b: JsonValue, unit: string): number | undefined {
    if (this.options.comparePositions) return this.options.comparePositions(a, b, unit);
    try {
      return comparePositions(a, b);
    } catch {
      return undefined;
    }
  }
}

/** A JSON round trip of `watermark` (what the sink stores and hands back). */
export function roundTrip<T extends Watermark | null>(watermark: T): T {
  return watermark === null ? watermark : (JSON.parse(JSON.stringify(watermark)) as T);
}

function survivesJson(value: unknown): boolean {
  try {
    const text = JSON.stringify(value);
    return text !== undefined && jsonEqual(JSON.parse(text) as JsonValue, value as JsonValue);
  } catch {
    return false;
  }
}

const PROVENANCE_TYPE_CHECKS: Record<string, (value: unknown) => boolean> = {
  string: (value) => typeof value === 'string',
  integer: (value) => typeof value === 'number' && Number.isSafeInteger(value),
  bigint: (value) => typeof value === 'string' && /^-?\d+$/.test(value),
  timestamp: (value) => typeof value === 'number' && Number.isFinite(value),
  boolean: (value) => typeof value === 'boolean',
};

const unknownType = () => false;

const PROVENANCE_TYPE_NAMES: Record<string, string> = {
  string: 'string',
  integer: 'safe integer number',
  bigint: 'decimal string',
  timestamp: 'finite epoch-milliseconds number',
  boolean: 'boolean',
};
