/**
 * @tidemark/source-mqtt — reads MQTT topics (3.1.1 and 5) through a persistent session into
 * Tidemark. QoS 1 and 2 are exactly-once by redelivery: messages are acknowledged only after the
 * sink committed them, and redeliveries of committed messages are recognised and dropped.
 */
import { type ConnectorContext, defineSource, type SourceDefinition } from '@tidemark/sdk';
import { type MqttSourceConfig, mqttSourceConfigSchema } from './config.js';
import { checkConnection } from './mqtt-connection.js';
import { createMqttSource } from './mqtt-source.js';
import { MQTT_PROVENANCE } from './provenance.js';

export {
  defaultUrl,
  type MqttSourceConfig,
  type MqttSourceConfigInput,
  mqttSourceConfigSchema,
} from './config.js';
export { createMqttSource, MqttSource, type MqttSourceBatch } from './mqtt-source.js';
export { MQTT_PROVENANCE } from './provenance.js';
export { compareSessionPositions, messageHash, type SessionPosition } from './watermark.js';

const definition = {
  type: 'mqtt',
  packageName: '@tidemark/source-mqtt',
  version: '0.1.0',
  description:
    'Reads MQTT 3.1.1/5 topics through a persistent session; QoS 1/2 acknowledged after the sink commit; exactly-once by redelivery.',
  configSchema: mqttSourceConfigSchema,
  capabilities: { replay: 'redeliver', exactlyOnce: true, bounded: false },
  provenance: MQTT_PROVENANCE,
  create: (config, context) => createMqttSource(config, context.name, context.logger),
  /** Preflight (`tidemark validate --connect`): reachability, TLS and credentials, with a throwaway session. */
  check: (config: MqttSourceConfig, _context?: ConnectorContext) => checkConnection(config),
} satisfies SourceDefinition<typeof mqttSourceConfigSchema> & {
  check(config: MqttSourceConfig, context?: ConnectorContext): Promise<void>;
};

/** The MQTT source connector (`type: mqtt`). */
export const mqttSource = defineSource(definition) as ReturnType<
  typeof defineSource<typeof mqttSourceConfigSchema>
> &
  Pick<typeof definition, 'check'>;

export default mqttSource;
