import type { Headers, ProvenanceColumn, TidemarkRecord } from '@tidemark/sdk';
import type { IPublishPacket } from 'mqtt';
import type { SessionPosition } from './watermark.js';

/** The provenance columns every MQTT record carries. */
export const MQTT_PROVENANCE: readonly ProvenanceColumn[] = Object.freeze([
  { name: 'mqtt.topic', type: 'string', description: 'Topic the message was published to.' },
  {
    name: 'mqtt.message_id',
    type: 'integer',
    description:
      'Packet identifier of the delivery (1–65535; null for QoS 0). Reused by the broker once acknowledged: not an identity.',
  },
  { name: 'mqtt.qos', type: 'integer', description: 'QoS of the delivery (0, 1 or 2).' },
  { name: 'mqtt.retain', type: 'boolean', description: 'True for a retained message sent on subscription.' },
  {
    name: 'mqtt.user_properties',
    type: 'string',
    description: 'MQTT 5 user properties as a JSON object (repeated names as arrays); "{}" when none.',
  },
] satisfies ProvenanceColumn[]);

/** User properties as record headers: repeated names joined with ", ". */
export function userPropertyHeaders(packet: IPublishPacket): Headers {
  const headers: Headers = {};
  const properties = packet.properties?.userProperties;
  if (!properties) return headers;
  for (const [name, value] of Object.entries(properties)) {
    headers[name] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return headers;
}

/**
 * The record of one PUBLISH: key is the topic (UTF-8), value the payload, headers the MQTT 5
 * user properties, rowtime the time of receipt (MQTT carries no timestamp).
 */
export function toRecord(
  packet: IPublishPacket,
  unit: string,
  position: SessionPosition,
  rowtime: number,
): TidemarkRecord {
  const topic = packet.topic.toString();
  const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
  return {
    key: Buffer.from(topic),
    value: payload,
    headers: userPropertyHeaders(packet),
    rowtime,
    provenance: {
      'mqtt.topic': topic,
      'mqtt.message_id': packet.qos > 0 && packet.messageId !== undefined ? packet.messageId : null,
      'mqtt.qos': packet.qos,
      'mqtt.retain': packet.retain,
      'mqtt.user_properties': JSON.stringify(packet.properties?.userProperties ?? {}),
    },
    position: { unit, next: position as unknown as TidemarkRecord['position']['next'] },
  };
}
