import type { ConnectorContext } from '@tidemark/sdk';
import amqplib from 'amqplib';
import type { AmqpSourceConfig } from './config.js';
import { connectSettings } from './connection.js';
import { channelError, connectError } from './errors.js';

/**
 * The preflight of `tidemark validate --connect`: logs in (TLS included) and checks that every
 * queue exists, without consuming anything (a consumer would mark messages redelivered).
 * Throws the source's typed errors: CONNECTION_FAILED, AUTH_FAILED, TLS_FAILED, NOT_FOUND.
 */
export async function checkAmqpSource(config: AmqpSourceConfig, context: ConnectorContext): Promise<void> {
  const { options, socket, endpoint, secure } = connectSettings(config, context.name);
  let connection: Awaited<ReturnType<typeof amqplib.connect>>;
  try {
    connection = await amqplib.connect({ ...options }, { ...socket });
  } catch (error) {
    throw connectError(error, endpoint, secure);
  }
  connection.on('error', () => undefined);
  try {
    for (const queue of config.queues) {
      const channel = await connection.createChannel().catch((error: unknown) => {
        throw channelError(error, queue, 'run');
      });
      channel.on('error', () => undefined);
      try {
        await channel.checkQueue(queue);
      } catch (error) {
        throw channelError(error, queue, 'check');
      }
      await channel.close().catch(() => undefined);
    }
  } finally {
    await connection.close().catch(() => undefined);
  }
}
