import { randomUUID } from 'node:crypto';
import amqplib from 'amqplib';

/** The RabbitMQ the integration tests use: TIDEMARK_AMQP_URL, else the local default. */
export const BROKER_URL = process.env.TIDEMARK_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

export type QueueKind = 'classic' | 'quorum' | 'stream';

/**
 * A publisher with confirms on the test broker, creating uniquely named durable queues and
 * deleting them afterwards. Fails loudly (naming the URL host) when RabbitMQ is not running.
 */
export class TestBroker {
  #connection: Awaited<ReturnType<typeof amqplib.connect>> | null = null;
  #channel: Awaited<ReturnType<NonNullable<TestBroker['connection']>['createConfirmChannel']>> | null = null;
  readonly #queues = new Set<string>();

  get connection() {
    return this.#connection;
  }

  async connect(): Promise<void> {
    try {
      this.#connection = await amqplib.connect(BROKER_URL);
    } catch (error) {
      throw new Error(
        `RabbitMQ is not reachable at ${new URL(BROKER_URL).host} (${(error as Error).message}): start it (npm run services -- up) before the integration tests`,
      );
    }
    this.#connection.on('error', () => undefined);
    this.#channel = await this.#connection.createConfirmChannel();
  }

  async createQueue(kind: QueueKind, prefix = 'tm-amqp'): Promise<string> {
    const queue = `${prefix}-${kind}-${randomUUID().slice(0, 8)}`;
    await this.#channel!.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': kind } });
    this.#queues.add(queue);
    return queue;
  }

  /** Publishes persistent messages with confirms; `properties` per message. */
  async publish(
    queue: string,
    bodies: readonly string[],
    properties: (index: number) => Record<string, unknown> = () => ({}),
  ): Promise<void> {
    bodies.forEach((body, index) => {
      this.#channel!.sendToQueue(queue, Buffer.from(body), { persistent: true, ...properties(index) });
    });
    await this.#channel!.waitForConfirms();
  }

  async deleteQueue(queue: string): Promise<void> {
    this.#queues.delete(queue);
    await this.#channel!.deleteQueue(queue).catch(() => undefined);
  }

  async close(): Promise<void> {
    for (const queue of [...this.#queues]) await this.deleteQueue(queue);
    await this.#connection?.close().catch(() => undefined);
    this.#connection = null;
  }
}
