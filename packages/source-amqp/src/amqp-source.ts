import {
  type JsonValue,
  type Logger,
  type ReadOptions,
  type Source,
  type SourceBatch,
  type SourceCapabilities,
  TidemarkError,
  type TidemarkRecord,
  Wakeup,
  type Watermark,
} from '@tidemark/sdk';
import type { AmqpSourceConfig } from './config.js';
import { type ConnectSettings, connectSettings } from './connection.js';
import { AMQP_PROVENANCE } from './provenance.js';
import { QueueConsumer } from './queue-consumer.js';
import { type QueueReader, RedeliverReader, StreamReader } from './queue-reader.js';
import { streamWatermarkAt } from './stream-lookup.js';

export const STREAM_CAPABILITIES: SourceCapabilities = Object.freeze({
  replay: 'seek',
  exactlyOnce: true,
  bounded: false,
});

export const QUEUE_CAPABILITIES: SourceCapabilities = Object.freeze({
  replay: 'redeliver',
  exactlyOnce: true,
  bounded: false,
});

/**
 * Reads RabbitMQ queues over AMQP 0-9-1: stream queues by offset (`replay: seek`), classic and
 * quorum queues by broker redelivery (`replay: redeliver`). One connection per queue.
 *
 * The runtime calls one method at a time: `open` → (`read` | `acknowledge` | `seek`)* →
 * `close`. A lost connection or channel surfaces from the next call as a retriable
 * CONNECTION_FAILED; the runtime then rewinds with `seek`, which reconnects (the runtime's
 * retry policy is the backoff). Typed errors that stop the pipeline: NOT_FOUND (queue missing),
 * AUTH_FAILED (login or permission refused), TLS_FAILED (handshake refused), CONFIG_INVALID
 * (queue type differs from queueType), WATERMARK_INVALID.
 */
export class AmqpSource implements Source {
  readonly name: string;
  readonly provenance = AMQP_PROVENANCE;
  readonly capabilities: SourceCapabilities;
  readonly #config: AmqpSourceConfig;
  readonly #settings: ConnectSettings;
  readonly #logger: Logger;
  #readers: QueueReader[] = [];
  #next = 0;
  readonly #arrivals = new Wakeup();

  constructor(config: AmqpSourceConfig, name: string, logger: Logger) {
    this.name = name;
    this.#config = config;
    this.#settings = connectSettings(config, name);
    this.#logger = logger.child({ source: name });
    this.capabilities = config.queueType === 'stream' ? STREAM_CAPABILITIES : QUEUE_CAPABILITIES;
  }

  /** The readers, one per queue (for tests). */
  get readers(): readonly QueueReader[] {
    return this.#readers;
  }

  async open(watermark: Watermark | null): Promise<void> {
    await this.close();
    this.#readers = this.#config.queues.map((queue) => {
      const consumer = new QueueConsumer(queue, this.#settings, this.#config.prefetch, this.#logger, () =>
        this.#arrivals.wake(),
      );
      return this.#config.queueType === 'stream'
        ? new StreamReader(queue, consumer, this.#config)
        : new RedeliverReader(queue, consumer, this.#config.forgetAfterMs, this.#logger);
    });
    try {
      await this.#startAll(watermark);
    } catch (error) {
      await this.close();
      throw error;
    }
    this.#logger.info(
      { endpoint: this.#settings.endpoint, queues: this.#config.queues, queueType: this.#config.queueType },
      'amqp source opened',
    );
  }

  async read(options: ReadOptions): Promise<SourceBatch> {
    if (this.#readers.length === 0) throw notOpen(this.name);
    const deadline = Date.now() + options.maxWaitMs;
    while (true) {
      const batch = await this.#takeRound(options);
      if (batch.records.length > 0 || batch.advance) return batch;
      const remaining = deadline - Date.now();
      if (remaining <= 0 || options.signal.aborted) return batch;
      await this.#arrivals.wait(remaining, options.signal);
    }
  }

  async seek(watermark: Watermark | null): Promise<void> {
    if (this.#readers.length === 0) throw notOpen(this.name);
    await this.#startAll(watermark);
  }

  async acknowledge(watermark: Watermark): Promise<void> {
    if (this.#readers.length === 0) throw notOpen(this.name);
    for (const reader of this.#readers) {
      const position = watermark[reader.queue];
      if (position !== undefined) await reader.acknowledge(position);
    }
  }

  async close(): Promise<void> {
    const readers = this.#readers;
    this.#readers = [];
    for (const reader of readers) await reader.consumer.close();
    this.#arrivals.wake();
  }

  /**
   * Stream queues only: the watermark of the newest messages (`latest`), or of the first chunk
   * written at or after `time`. Connects briefly per queue; does not open the source.
   */
  async watermarkAt(target: { readonly latest: true } | { readonly time: number }): Promise<Watermark> {
    if (this.#config.queueType !== 'stream') {
      throw new TidemarkError(
        'CONFIG_INVALID',
        `amqp source ${this.name}: classic and quorum queues have no position to reset to`,
        {
          fix: 'Reset a classic or quorum queue source with --to earliest (forget its watermark) and purge the queue on the broker if needed.',
        },
      );
    }
    const watermark: Record<string, JsonValue> = {};
    for (const queue of this.#config.queues) {
      watermark[queue] = await streamWatermarkAt(
        queue,
        this.#settings,
        this.#config.prefetch,
        this.#logger,
        target,
      );
    }
    return watermark;
  }

  async #startAll(watermark: Watermark | null): Promise<void> {
    for (const reader of this.#readers) await reader.start(watermark?.[reader.queue]);
  }

  /** One pass over the queues, round-robin, within the read's limits. */
  async #takeRound(options: ReadOptions): Promise<SourceBatch> {
    const records: TidemarkRecord[] = [];
    let advance: Record<string, JsonValue> | undefined;
    let bytes = 0;
    const count = this.#readers.length;
    for (let step = 0; step < count && records.length < options.maxRecords; step += 1) {
      const reader = this.#readers[(this.#next + step) % count]!;
      const taken = await reader.take(options.maxRecords - records.length, options.maxBytes - bytes);
      for (const record of taken.records) {
        records.push(record);
        bytes += record.value?.byteLength ?? 0;
      }
      if (taken.advance !== undefined) {
        advance ??= {};
        advance[reader.queue] = taken.advance;
      }
      if (bytes >= options.maxBytes) break;
    }
    this.#next = (this.#next + 1) % Math.max(1, count);
    return advance ? { records, advance } : { records };
  }
}

function notOpen(name: string): TidemarkError {
  return new TidemarkError('NOT_CONNECTED', `amqp source ${name} is not open`, {
    fix: 'The runtime opens sources before reading; this is a bug if it persists.',
  });
}

/** Creates an unopened AMQP source (no I/O). */
export function createAmqpSource(config: AmqpSourceConfig, name: string, logger: Logger): AmqpSource {
  return new AmqpSource(config, name, logger);
}
