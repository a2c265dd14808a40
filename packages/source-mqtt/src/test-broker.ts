import { randomUUID } from 'node:crypto';
import {
  parseConnectorConfig,
  type Source,
  silentLogger,
  type TidemarkRecord,
  type Watermark,
} from '@tidemark/sdk';
import mqtt, { type MqttClient } from 'mqtt';
import { defaultUrl } from './config.js';
import mqttSource from './index.js';
import type { MqttSource } from './mqtt-source.js';

/** Test helpers against a real broker (the shared one by default): unique names, a publisher. */
export const brokerUrl = defaultUrl();

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/**
 * Creates the persistent session of `clientId` with its subscriptions, then disconnects: a
 * broker keeps only messages published after a subscription exists.
 */
export async function createSession(
  clientId: string,
  topics: readonly string[],
  options: { url?: string; protocolVersion?: 4 | 5; qos?: 0 | 1 | 2 } = {},
): Promise<void> {
  const protocolVersion = options.protocolVersion ?? 5;
  const client = await mqtt.connectAsync(options.url ?? brokerUrl, {
    clientId,
    clean: false,
    protocolVersion,
    reconnectPeriod: 0,
    ...(protocolVersion === 5 ? { properties: { sessionExpiryInterval: 3_600 } } : {}),
  });
  await client.subscribeAsync([...topics], { qos: options.qos ?? 1 });
  await client.endAsync();
}

/** Removes the session of `clientId` (connects with a clean session and leaves). */
export async function dropSession(clientId: string, url = brokerUrl): Promise<void> {
  const client = await mqtt.connectAsync(url, { clientId, clean: true, reconnectPeriod: 0 });
  await client.endAsync();
}

export async function publisher(url = brokerUrl): Promise<MqttClient> {
  return mqtt.connectAsync(url, {
    clientId: uniqueName('tm-test-pub'),
    reconnectPeriod: 0,
    protocolVersion: 5,
  });
}

/** Creates an unopened source from a raw (YAML-shaped) config, as the runtime does. */
export function createTestSource(raw: Record<string, unknown>): MqttSource {
  const config = parseConnectorConfig(mqttSource, { url: brokerUrl, ...raw }, 'sources[0]');
  return mqttSource.create(config, {
    name: 'mqtt',
    logger: silentLogger,
    signal: new AbortController().signal,
  }) as MqttSource;
}

/** Reads until `count` records arrived (failing after `timeoutMs`), then returns them. */
export async function readRecords(
  source: Source,
  count: number,
  timeoutMs = 10_000,
): Promise<TidemarkRecord[]> {
  const records: TidemarkRecord[] = [];
  const deadline = Date.now() + timeoutMs;
  while (records.length < count) {
    if (Date.now() > deadline) {
      throw new Error(`expected ${count} records, read ${records.length}: ${values(records).join(', ')}`);
    }
    const batch = await source.read({
      signal: new AbortController().signal,
      maxRecords: 1_000,
      maxBytes: 1 << 20,
      maxWaitMs: 100,
    });
    records.push(...batch.records);
  }
  return records;
}

/** Reads for `quietMs` and returns whatever came (expected: nothing). */
export async function readQuiet(source: Source, quietMs = 500): Promise<TidemarkRecord[]> {
  const batch = await source.read({
    signal: new AbortController().signal,
    maxRecords: 1_000,
    maxBytes: 1 << 20,
    maxWaitMs: quietMs,
  });
  return [...batch.records];
}

/** Payloads as UTF-8 strings. */
export function values(records: readonly TidemarkRecord[]): string[] {
  return records.map((record) => Buffer.from(record.value ?? new Uint8Array()).toString('utf8'));
}

/** The watermark after `records` (the last record's position). */
export function watermarkAfter(records: readonly TidemarkRecord[]): Watermark {
  const last = records.at(-1);
  if (!last) throw new Error('no records');
  return { [last.position.unit]: last.position.next };
}
