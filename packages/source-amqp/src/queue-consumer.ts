import type { Logger, TidemarkError } from '@tidemark/sdk';
import amqplib from 'amqplib';
import type { ConnectSettings } from './connection.js';
import { channelError, connectError } from './errors.js';
import type { DeliveredMessage } from './provenance.js';

type ChannelModel = Awaited<ReturnType<typeof amqplib.connect>>;
type Channel = Awaited<ReturnType<ChannelModel['createChannel']>>;

/**
 * One queue's connection, channel and consumer, with the deliveries received and not yet taken.
 * Each queue has its own connection: a stream consumer error closes the whole connection.
 *
 * Calls are sequential (the source calls one method at a time). Deliveries arrive in between;
 * `onActivity` is called on each delivery and on a failure, so a waiting read wakes up. A
 * failure (connection or channel closed, consumer cancelled) is kept and thrown by
 * {@link throwIfFailed} as a TidemarkError; `start` begins afresh on a new channel (and a new
 * connection when the old one is gone).
 */
export class QueueConsumer {
  readonly queue: string;
  /** When the current consumer started (epoch ms); 0 while not consuming. */
  consumingSince = 0;
  readonly #settings: ConnectSettings;
  readonly #prefetch: number;
  readonly #logger: Logger;
  readonly #onActivity: () => void;
  #connection: ChannelModel | null = null;
  #channel: Channel | null = null;
  #buffer: DeliveredMessage[] = [];
  #head = 0;
  #failure: TidemarkError | null = null;
  #closed = false;

  constructor(
    queue: string,
    settings: ConnectSettings,
    prefetch: number,
    logger: Logger,
    onActivity: () => void,
  ) {
    this.queue = queue;
    this.#settings = settings;
    this.#prefetch = prefetch;
    this.#logger = logger;
    this.#onActivity = onActivity;
  }

  /**
   * (Re)starts consuming with `consumeArguments` on a fresh channel: the old channel is closed
   * (the broker requeues what it held unacknowledged) and everything buffered is dropped.
   * Throws NOT_FOUND, AUTH_FAILED, TLS_FAILED, CONFIG_INVALID or CONNECTION_FAILED.
   */
  async start(consumeArguments: Record<string, unknown> | undefined): Promise<void> {
    this.#closed = false;
    await this.#closeChannel();
    this.#failure = null;
    this.#buffer = [];
    this.#head = 0;
    const connection = await this.#connect();
    let channel: Channel;
    try {
      channel = await connection.createChannel();
    } catch (error) {
      throw channelError(error, this.queue, 'run');
    }
    this.#channel = channel;
    channel.on('error', (error: unknown) => this.#fail(channelError(error, this.queue, 'run'), channel));
    channel.on('close', () =>
      this.#fail(channelError(new Error('channel closed'), this.queue, 'run'), channel),
    );
    try {
      await channel.checkQueue(this.queue);
    } catch (error) {
      throw channelError(error, this.queue, 'check');
    }
    try {
      await channel.prefetch(this.#prefetch, false);
      await channel.consume(
        this.queue,
        (message) => {
          if (channel !== this.#channel) return;
          if (message === null) {
            this.#fail(
              channelError(
                new Error('the broker cancelled the consumer (queue deleted?)'),
                this.queue,
                'run',
              ),
              channel,
            );
            return;
          }
          this.#buffer.push(message as unknown as DeliveredMessage);
          this.#onActivity();
        },
        { noAck: false, ...(consumeArguments ? { arguments: consumeArguments } : {}) },
      );
    } catch (error) {
      throw channelError(this.#failureCause() ?? error, this.queue, 'consume');
    }
    // A failure between the channel opening and here belongs to this start: report it.
    this.throwIfFailed();
    this.consumingSince = Date.now();
  }

  /** Deliveries received and not yet taken. */
  get buffered(): number {
    return this.#buffer.length - this.#head;
  }

  /** Takes up to `max` deliveries, oldest first. */
  take(max: number): DeliveredMessage[] {
    const end = Math.min(this.#buffer.length, this.#head + max);
    const taken = this.#buffer.slice(this.#head, end);
    this.#head = end;
    if (this.#head > 1024 && this.#head * 2 > this.#buffer.length) {
      this.#buffer = this.#buffer.slice(this.#head);
      this.#head = 0;
    }
    return taken;
  }

  /** Throws the failure that ended the current consumer, if any. */
  throwIfFailed(): void {
    if (this.#failure) throw this.#failure;
  }

  get failed(): boolean {
    return this.#failure !== null;
  }

  /** Acknowledges `deliveryTag` (and every earlier one with `multiple`). Fire and forget. */
  acknowledge(deliveryTag: number, multiple: boolean): void {
    const channel = this.#requireChannel();
    channel.ack({ fields: { deliveryTag } } as never, multiple);
  }

  /**
   * A round trip on the channel (basic.qos): once it returns, the broker has processed every
   * acknowledgement sent before it on this channel.
   */
  async sync(): Promise<void> {
    const channel = this.#requireChannel();
    try {
      await channel.prefetch(this.#prefetch, false);
    } catch (error) {
      throw channelError(this.#failureCause() ?? error, this.queue, 'run');
    }
    this.throwIfFailed();
  }

  /** Closes channel and connection (unacknowledged messages go back to the queue). Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#closeChannel();
    const connection = this.#connection;
    this.#connection = null;
    if (connection) {
      try {
        await connection.close();
      } catch {
        // Already closed or broken: nothing is left to release.
      }
    }
    this.#buffer = [];
    this.#head = 0;
  }

  /** The client error behind the current failure (a channel close names why the call failed). */
  #failureCause(): unknown {
    return this.#failure?.cause;
  }

  #requireChannel(): Channel {
    this.throwIfFailed();
    if (!this.#channel) {
      throw channelError(new Error('not consuming'), this.queue, 'run');
    }
    return this.#channel;
  }

  async #connect(): Promise<ChannelModel> {
    if (this.#connection) return this.#connection;
    const { options, socket, endpoint, secure } = this.#settings;
    let connection: ChannelModel;
    try {
      connection = await amqplib.connect({ ...options }, { ...socket });
    } catch (error) {
      throw connectError(error, endpoint, secure);
    }
    this.#connection = connection;
    connection.on('error', (error: unknown) => {
      this.#logger.warn({ queue: this.queue, err: (error as Error).message }, 'amqp connection error');
    });
    connection.on('close', () => {
      if (this.#connection === connection) this.#connection = null;
      if (this.#closed) return;
      this.#fail(
        channelError(new Error(`connection to ${endpoint} closed`), this.queue, 'run'),
        this.#channel,
      );
    });
    return connection;
  }

  async #closeChannel(): Promise<void> {
    const channel = this.#channel;
    this.#channel = null;
    this.consumingSince = 0;
    if (!channel) return;
    try {
      await channel.close();
    } catch {
      // The channel or its connection is already gone; the broker requeued its messages.
    }
  }

  #fail(error: TidemarkError, channel: Channel | null): void {
    if (this.#closed || channel !== this.#channel || this.#failure) return;
    this.#failure = error;
    this.#onActivity();
  }
}
