import { withAdmin } from '@tidemark/kafka';
import type { KafkaSinkConfig } from './config.js';

/** The broker's default `message.max.bytes`: the largest record batch it accepts. */
export const DEFAULT_MESSAGE_MAX_BYTES = 1_048_588;

/** The largest record batch one topic accepts, and the setting that says so. */
export interface MessageLimit {
  readonly bytes: number;
  /** `max.message.bytes of topic '<t>'`, `message.max.bytes of the broker`, or the default. */
  readonly setting: string;
}

const TOPIC_RESOURCE = 2;
const BROKER_RESOURCE = 4;

/**
 * Reads the largest record batch each of `topics` accepts: the topic's `max.message.bytes`
 * (which defaults to the broker's `message.max.bytes`), else the broker's, else
 * {@link DEFAULT_MESSAGE_MAX_BYTES}. Advisory: a failed lookup falls back to the default and
 * never fails the sink. One admin connection, bounded by `connectTimeoutMs`.
 */
export async function readMessageLimits(
  config: KafkaSinkConfig,
  topics: readonly string[],
): Promise<Map<string, MessageLimit>> {
  const limits = new Map<string, MessageLimit>();
  const fallback: MessageLimit = {
    bytes: DEFAULT_MESSAGE_MAX_BYTES,
    setting: "the broker's default message.max.bytes",
  };
  try {
    await withAdmin(config, config.connectTimeoutMs, async (admin) => {
      let broker: MessageLimit = fallback;
      const cluster = await admin.describeCluster();
      const node = cluster.brokers[0];
      if (node) {
        const described = await admin.describeConfigs({
          resources: [
            { type: BROKER_RESOURCE, name: String(node.nodeId), configNames: ['message.max.bytes'] },
          ],
          includeSynonyms: false,
        });
        const bytes = Number(described.resources[0]?.configEntries[0]?.configValue);
        if (Number.isSafeInteger(bytes) && bytes > 0)
          broker = { bytes, setting: 'message.max.bytes of the broker' };
      }
      for (const topic of topics) {
        let limit = broker;
        try {
          const described = await admin.describeConfigs({
            resources: [{ type: TOPIC_RESOURCE, name: topic, configNames: ['max.message.bytes'] }],
            includeSynonyms: false,
          });
          const entry = described.resources[0]?.configEntries[0];
          const bytes = Number(entry?.configValue);
          if (Number.isSafeInteger(bytes) && bytes > 0)
            limit = { bytes, setting: `max.message.bytes of topic '${topic}'` };
        } catch {
          // A topic not created yet: the broker's limit applies to it.
        }
        limits.set(topic, limit);
      }
    });
  } catch {
    // Advisory: the broker's default is assumed.
  }
  for (const topic of topics) if (!limits.has(topic)) limits.set(topic, fallback);
  return limits;
}
