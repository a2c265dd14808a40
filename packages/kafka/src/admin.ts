import { TidemarkError, withDeadline } from '@tidemark/sdk';
import type { Admin } from 'kafkajs';
import { createKafka, unreachable } from './client.js';
import type { KafkaConnection } from './connection.js';

/**
 * Connects an admin client, runs `work`, disconnects. A cluster that does not answer within
 * `timeoutMs` becomes CONNECTION_FAILED naming the brokers (`details.option: 'brokers'`);
 * `work` gets twice that before TIMEOUT. An aborted `signal` ends either step early the same way.
 */
export async function withAdmin<T>(
  connection: KafkaConnection,
  timeoutMs: number,
  work: (admin: Admin) => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  const admin = createKafka(connection, {
    connectTimeoutMs: timeoutMs,
    requestTimeoutMs: timeoutMs,
    retry: { retries: 1, initialRetryTime: 200, maxRetryTime: 1_000 },
  }).admin();
  const where = `Kafka at ${connection.brokers.join(',')}`;
  const timedOut = (limit: number) => () =>
    new TidemarkError('TIMEOUT', `${where} did not answer within ${limit} ms`);
  try {
    try {
      await withDeadline(admin.connect(), timeoutMs, timedOut(timeoutMs), signal);
    } catch (cause) {
      throw unreachable(connection, cause);
    }
    return await withDeadline(work(admin), timeoutMs * 2, timedOut(timeoutMs * 2), signal);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** Whether `topic` exists, and whether the broker would auto-create it (undefined: unknown). */
export async function checkTopic(
  admin: Admin,
  topic: string,
): Promise<{ exists: boolean; autoCreate: boolean | undefined }> {
  const topics = await admin.listTopics();
  if (topics.includes(topic)) return { exists: true, autoCreate: undefined };
  let autoCreate: boolean | undefined;
  try {
    const cluster = await admin.describeCluster();
    const broker = cluster.brokers[0];
    if (broker) {
      const configs = await admin.describeConfigs({
        resources: [{ type: 4, name: String(broker.nodeId), configNames: ['auto.create.topics.enable'] }],
        includeSynonyms: false,
      });
      const entry = configs.resources[0]?.configEntries.find(
        (item) => item.configName === 'auto.create.topics.enable',
      );
      if (entry) autoCreate = entry.configValue === 'true';
    }
  } catch {
    autoCreate = undefined;
  }
  return { exists: false, autoCreate };
}

/**
 * Throws NOT_FOUND (with `details.option`) for the first of `topics` that does not exist and
 * that neither the connector (`connectorCreates`) nor the broker creates.
 */
export async function requireTopics(
  connection: KafkaConnection,
  timeoutMs: number,
  topics: readonly { readonly topic: string; readonly option: string }[],
  connectorCreates: boolean,
  signal?: AbortSignal,
): Promise<void> {
  await withAdmin(
    connection,
    timeoutMs,
    async (admin) => {
      for (const { topic, option } of topics) {
        const { exists, autoCreate } = await checkTopic(admin, topic);
        if (exists || autoCreate === true || connectorCreates) continue;
        throw new TidemarkError(
          'NOT_FOUND',
          `topic '${topic}' does not exist and the broker ${autoCreate === false ? 'does not auto-create topics' : 'may not auto-create it'}`,
          {
            fix: `Create it first (kafka-topics.sh --create --topic ${topic}).`,
            details: { topic, option },
          },
        );
      }
    },
    signal,
  );
}
