import type { MqttClient } from 'mqtt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MqttSource } from './mqtt-source.js';
import {
  createSession,
  createTestSource,
  dropSession,
  publisher,
  readQuiet,
  readRecords,
  uniqueName,
  values,
  watermarkAfter,
} from './test-broker.js';
import { messageHash } from './watermark.js';

let clientId = '';
let topic = '';
let client: MqttClient;
const sources: MqttSource[] = [];

function source(raw: Record<string, unknown> = {}): MqttSource {
  const created = createTestSource({ clientId, topics: [`${topic}/#`], ...raw });
  sources.push(created);
  return created;
}

async function publish(suffix: string, payloads: readonly string[], qos: 0 | 1 | 2 = 1, properties = {}) {
  for (const payload of payloads)
    await client.publishAsync(`${topic}/${suffix}`, payload, { qos, properties });
}

beforeEach(async () => {
  clientId = uniqueName('tm-mqtt-int');
  topic = uniqueName('tm/int');
  client = await publisher();
});

afterEach(async () => {
  for (const created of sources.splice(0)) await created.close();
  await client.endAsync();
  await dropSession(clientId);
});

describe.each([4, 5] as const)('MQTT source, protocol version %i', (protocolVersion) => {
  it('reads QoS 1 and 2 from several wildcard subscriptions with provenance', async () => {
    await createSession(clientId, [`${topic}/a/+`, `${topic}/b/#`], { protocolVersion, qos: 2 });
    const reader = source({
      protocolVersion,
      topics: [`${topic}/a/+`, { topic: `${topic}/b/#`, qos: 2 }],
      qos: 2,
    });
    await reader.open(null);
    await publish('a/x', ['a1'], 1);
    await publish('b/y/z', ['b1'], 2);
    await publish('c', ['ignored'], 1);
    const records = await readRecords(reader, 2);
    expect(values(records).sort()).toEqual(['a1', 'b1']);
    const byValue = Object.fromEntries(records.map((record) => [values([record])[0], record]));
    expect(byValue.a1!.provenance).toMatchObject({
      'mqtt.topic': `${topic}/a/x`,
      'mqtt.qos': 1,
      'mqtt.retain': false,
    });
    expect(byValue.b1!.provenance).toMatchObject({ 'mqtt.topic': `${topic}/b/y/z`, 'mqtt.qos': 2 });
    expect(byValue.a1!.provenance['mqtt.message_id']).toEqual(expect.any(Number));
    expect(Buffer.from(byValue.a1!.key!).toString()).toBe(`${topic}/a/x`);
    expect(await readQuiet(reader, 300)).toEqual([]);
  });

  it.each([1, 2] as const)(
    'after a crash between the sink commit and the acknowledgement, the redelivery is acknowledged, not emitted (QoS %i)',
    async (qos) => {
      await createSession(clientId, [`${topic}/#`], { protocolVersion, qos });
      const first = source({ protocolVersion, qos });
      await first.open(null);
      // Published while connected: with MQTT 3.1.1, Mosquitto 2.0 may hold back part of the
      // offline backlog of a resumed session until the client acknowledges (docs/connectors/mqtt.md).
      await publish('t', ['m1', 'm2', 'm3'], qos);
      const read = await readRecords(first, 3);
      const committed = watermarkAfter(read.slice(0, 2));
      await first.close(); // the crash: m1..m3 were never acknowledged
      const second = source({ protocolVersion, qos });
      await second.open(committed);
      expect(values(await readRecords(second, 1))).toEqual(['m3']);
      expect(await readQuiet(second, 300)).toEqual([]);
      await second.close();
      // m1 and m2 were acknowledged when recognised; m3 was never committed, so it comes again.
      const third = source({ protocolVersion, qos });
      await third.open(committed);
      expect(values(await readRecords(third, 1))).toEqual(['m3']);
      expect(await readQuiet(third, 300)).toEqual([]);
    },
  );
});

describe('MQTT source, packet id reuse and acknowledgements', () => {
  it('emits a new message that reuses a committed packet id with different content, drops one with the same', async () => {
    await createSession(clientId, [`${topic}/#`]);
    // A watermark from an earlier life of this session: ids 1 and 2 committed, not acknowledged.
    const committed = {
      [clientId]: {
        seq: 7,
        unacked: [
          `1:${messageHash(`${topic}/t`, Buffer.from('old'))}`,
          `2:${messageHash(`${topic}/t`, Buffer.from('same'))}`,
        ],
      },
    };
    await publish('t', ['new', 'same', 'after'], 1);
    const reader = source();
    await reader.open(committed);
    const records = await readRecords(reader, 2);
    expect(values(records)).toEqual(['new', 'after']);
    // The broker numbered this fresh session's deliveries 1, 2, 3: id 1 was reused with new content.
    expect(records.map((record) => record.provenance['mqtt.message_id'])).toEqual([1, 3]);
    expect(await readQuiet(reader, 300)).toEqual([]);
  });

  it('holds acknowledgements longer than the keepalive without losing the connection', async () => {
    await createSession(clientId, [`${topic}/#`]);
    const reader = source({ keepaliveSeconds: 1 });
    await reader.open(null);
    await publish('t', ['k1'], 1);
    const first = await readRecords(reader, 1);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    await publish('t', ['k2'], 1);
    expect(values(await readRecords(reader, 1))).toEqual(['k2']);
    await reader.acknowledge(watermarkAfter(first));
    await reader.close();
    const again = source();
    await again.open(watermarkAfter(first));
    expect(values(await readRecords(again, 1))).toEqual(['k2']);
  });

  it('asks for a commit once the in-flight window is full, and reads on after the acknowledgement', async () => {
    await createSession(clientId, [`${topic}/#`]);
    await publish('t', ['w1', 'w2', 'w3'], 1);
    const reader = source({ maxInflight: 2 });
    await reader.open(null);
    const batch = await reader.read({
      signal: new AbortController().signal,
      maxRecords: 10,
      maxBytes: 1 << 20,
      maxWaitMs: 500,
    });
    expect(values(batch.records)).toEqual(['w1', 'w2']);
    expect(batch.commitRequested).toBe(true);
    await reader.acknowledge(watermarkAfter(batch.records));
    expect(values(await readRecords(reader, 1))).toEqual(['w3']);
  });

  it('carries MQTT 5 user properties as headers and provenance, also on redelivery', async () => {
    await createSession(clientId, [`${topic}/#`]);
    await publish('t', ['u1'], 1, { userProperties: { tenant: 'acme', tag: ['x', 'y'] } });
    const first = source();
    await first.open(null);
    const [record] = await readRecords(first, 1);
    expect(record!.headers).toEqual({ tenant: 'acme', tag: 'x, y' });
    expect(JSON.parse(String(record!.provenance['mqtt.user_properties']))).toEqual({
      tenant: 'acme',
      tag: ['x', 'y'],
    });
    await first.close();
    const second = source();
    await second.open(null);
    const [again] = await readRecords(second, 1);
    expect(again!.headers).toEqual({ tenant: 'acme', tag: 'x, y' });
  });
});
