import { describeSourceConformance } from '@tidemark/sdk/testing';
import type { MqttClient } from 'mqtt';
import mqttSource from './index.js';
import { brokerUrl, createSession, dropSession, publisher, uniqueName } from './test-broker.js';
import { compareSessionPositions } from './watermark.js';

for (const { protocolVersion, qos } of [
  { protocolVersion: 5, qos: 1 },
  { protocolVersion: 5, qos: 2 },
] as const) {
  let clientId = '';
  let topic = '';
  let produced = 0;
  let client: MqttClient | undefined;

  describeSourceConformance({
    title: `source conformance: mqtt (protocol ${protocolVersion}, QoS ${qos})`,
    connector: mqttSource,
    config: () => ({
      url: brokerUrl,
      clientId,
      topics: [`${topic}/#`],
      qos,
      protocolVersion,
      commitRequestMs: 0,
    }),
    setup: async () => {
      clientId = uniqueName('tm-conformance');
      topic = uniqueName('tm/conformance');
      produced = 0;
      await createSession(clientId, [`${topic}/#`], { protocolVersion, qos });
      client = await publisher();
    },
    cleanup: async () => {
      await client?.endAsync();
      await dropSession(clientId);
    },
    produce: async (count) => {
      const ids = Array.from({ length: count }, () => `id-${produced++}`);
      for (const [index, id] of ids.entries()) {
        await client!.publishAsync(`${topic}/${index % 3}`, id, { qos });
      }
      return ids;
    },
    idOf: (record) => Buffer.from(record.value ?? new Uint8Array()).toString('utf8'),
    badConfig: { clientId: '', topics: [], qos: 3 },
    comparePositions: (a, b) => compareSessionPositions(a, b),
  });
}
