import {
  parseConnectorConfig,
  type Source,
  silentLogger,
  type TidemarkRecord,
  type Watermark,
} from '@tidemark/sdk';
import rdbmsSource, { type RdbmsSource } from '../index.js';

/** Test helper: an rdbms source from raw YAML-like options (parsed as the runtime does). */
export function createTestSource(options: Record<string, unknown>, name = 'rows'): RdbmsSource {
  const config = parseConnectorConfig(rdbmsSource, options, 'sources[0]');
  return rdbmsSource.create(config, {
    name,
    logger: silentLogger,
    signal: new AbortController().signal,
  }) as RdbmsSource;
}

/** Reads until `count` records came (or `timeoutMs` passed); returns them and the watermark after them. */
export async function readRecords(
  source: Source,
  count: number,
  { timeoutMs = 10_000, base = {} as Watermark } = {},
): Promise<{ records: TidemarkRecord[]; watermark: Watermark }> {
  const records: TidemarkRecord[] = [];
  let watermark: Watermark = base;
  const deadline = Date.now() + timeoutMs;
  while (records.length < count && Date.now() < deadline) {
    const batch = await source.read({
      signal: new AbortController().signal,
      maxRecords: 100,
      maxBytes: 1 << 20,
      maxWaitMs: 100,
    });
    for (const record of batch.records) {
      records.push(record);
      watermark = { ...watermark, [record.position.unit]: record.position.next };
    }
    if (batch.end) break;
  }
  return { records, watermark };
}

/** The record's value parsed as JSON. */
export function rowOf(record: TidemarkRecord): Record<string, unknown> {
  return JSON.parse(Buffer.from(record.value ?? new Uint8Array()).toString('utf8')) as Record<
    string,
    unknown
  >;
}

/** Expects `promise` to reject with a TidemarkError of `code`; returns it. */
export async function expectCode(
  promise: Promise<unknown>,
  code: string,
): Promise<{ code: string; fix?: string; retriable: boolean; message: string }> {
  try {
    await promise;
  } catch (error) {
    const typed = error as { code?: string; fix?: string; retriable: boolean; message: string };
    if (typed.code !== code) throw new Error(`expected ${code}, got ${typed.code}: ${typed.message}`);
    if (!typed.fix) throw new Error(`${code} carries no fix: ${typed.message}`);
    return typed as { code: string; fix?: string; retriable: boolean; message: string };
  }
  throw new Error(`expected ${code}, but it resolved`);
}
