import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { MqttSource } from './mqtt-source.js';
import {
  createSession,
  createTestSource,
  readQuiet,
  readRecords,
  uniqueName,
  values,
  watermarkAfter,
} from './test-broker.js';
import { PrivateMosquitto } from './test-mosquitto.js';

const broker = new PrivateMosquitto();
let clientId = '';
let topic = '';
const sources: MqttSource[] = [];

function source(): MqttSource {
  const created = createTestSource({ url: broker.url, clientId, topics: [`${topic}/#`] });
  sources.push(created);
  return created;
}

async function publish(payloads: readonly string[]): Promise<void> {
  const client: MqttClient = await mqtt.connectAsync(broker.url, {
    clientId: uniqueName('tm-pub'),
    reconnectPeriod: 0,
  });
  for (const payload of payloads) await client.publishAsync(`${topic}/t`, payload, { qos: 1 });
  await client.endAsync();
}

/** Lets the broker's autosave (every second, checked with whole-second clocks) write the session to disk. */
const autosave = () => new Promise((resolve) => setTimeout(resolve, 2_500));

beforeAll(() => broker.start());
afterAll(() => broker.dispose());

beforeEach(async () => {
  clientId = uniqueName('tm-restart');
  topic = uniqueName('tm/restart');
  await createSession(clientId, [`${topic}/#`], { url: broker.url });
});

afterEach(async () => {
  for (const created of sources.splice(0)) await created.close();
});

describe('MQTT source across broker restarts (persistence, autosave every second)', () => {
  it('a crash between commit and acknowledgement, then a broker restart: committed messages are acknowledged, not emitted', async () => {
    await publish(['r1', 'r2', 'r3', 'r4']);
    const first = source();
    await first.open(null);
    const read = await readRecords(first, 4);
    const committed = watermarkAfter(read.slice(0, 3));
    await first.close();
    await autosave();
    await broker.restart('SIGKILL');
    const second = source();
    await second.open(committed);
    expect(values(await readRecords(second, 1))).toEqual(['r4']);
    expect(await readQuiet(second, 300)).toEqual([]);
  });

  it('messages queued while the source was offline survive a broker crash after the autosave', async () => {
    const first = source();
    await first.open(null);
    await first.close();
    await publish(['q1', 'q2', 'q3']);
    await autosave();
    await broker.restart('SIGKILL');
    const second = source();
    await second.open(null);
    expect(values(await readRecords(second, 3))).toEqual(['q1', 'q2', 'q3']);
  });

  it('acknowledged messages stay acknowledged across a broker restart', async () => {
    await publish(['a1', 'a2']);
    const first = source();
    await first.open(null);
    const read = await readRecords(first, 2);
    await first.acknowledge(watermarkAfter(read));
    await first.close();
    await broker.restart('SIGTERM');
    await publish(['a3']);
    const second = source();
    await second.open(watermarkAfter(read));
    expect(values(await readRecords(second, 1))).toEqual(['a3']);
    expect(await readQuiet(second, 300)).toEqual([]);
  });
});
