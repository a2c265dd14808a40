import {
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
import type { IPublishPacket } from 'mqtt';
import type { MqttSourceConfig } from './config.js';
import { DeliveryLedger } from './delivery-ledger.js';
import { type ConnectionOptions, connectionOptionsOf, MqttConnection } from './mqtt-connection.js';
import { MQTT_PROVENANCE, toRecord } from './provenance.js';
import { messageHash, parsePosition } from './watermark.js';

/**
 * A batch that may ask the runtime to commit now: the source holds acknowledgements that the
 * broker waits for (its in-flight window is full, or nothing new arrived for a while), and the
 * commit policy's wall time would otherwise stall delivery.
 */
export interface MqttSourceBatch extends SourceBatch {
  readonly commitRequested?: boolean;
}

/**
 * Reads a persistent MQTT session (QoS 1/2: exactly-once by redelivery).
 *
 * Messages are yielded as they arrive and held unacknowledged; `acknowledge` (called by the
 * runtime after the sink committed) sends their PUBACK / PUBREC, in arrival order. Each record's
 * position lists the messages the broker may still redeliver (committed, acknowledgement not
 * confirmed) by packet id and content hash, so after a crash a redelivery of a committed
 * message is acknowledged and dropped (see DeliveryLedger). `seek` and connection losses start
 * a new connection: the broker redelivers everything unacknowledged.
 *
 * Lifecycle as in the Source contract; the methods are never called concurrently.
 */
export class MqttSource implements Source {
  readonly name: string;
  readonly provenance = MQTT_PROVENANCE;
  readonly capabilities: SourceCapabilities = Object.freeze({
    replay: 'redeliver',
    exactlyOnce: true,
    bounded: false,
  });
  readonly #config: MqttSourceConfig;
  readonly #logger: Logger;
  readonly #unit: string;
  readonly #ledger: DeliveryLedger;
  readonly #connectionOptions: ConnectionOptions;
  #connection: MqttConnection | null = null;
  /** Packets received and not yet read: `#arrived[#arrivedHead..]` (a queue without shifting). */
  #arrived: IPublishPacket[] = [];
  #arrivedHead = 0;
  #lost: TidemarkError | null = null;
  readonly #arrivals = new Wakeup();
  #acksSinceRound = 0;
  #lastArrivalAt = 0;

  constructor(config: MqttSourceConfig, name: string, logger: Logger) {
    this.name = name;
    this.#config = config;
    this.#logger = logger.child({ source: name });
    this.#unit = config.clientId;
    this.#ledger = new DeliveryLedger(Math.max(4 * config.maxInflight, 1_000));
    this.#connectionOptions = connectionOptionsOf(config);
  }

  async open(watermark: Watermark | null): Promise<void> {
    await this.#start(watermark);
  }

  async seek(watermark: Watermark | null): Promise<void> {
    await this.#stop();
    await this.#start(watermark);
  }

  async read(options: ReadOptions): Promise<MqttSourceBatch> {
    if (this.#lost) throw this.#lost;
    if (this.#connection === null) {
      throw new TidemarkError('NOT_CONNECTED', `MQTT source '${this.name}' is not open`, {
        retriable: true,
        fix: 'The runtime opens (or rewinds) the source before reading; if this persists, report it as a bug.',
      });
    }
    const held = this.#ledger.heldCount;
    if (this.#pendingArrivals() === 0 && held < this.#config.maxInflight) {
      const waitMs = held > 0 ? Math.min(options.maxWaitMs, this.#config.commitRequestMs) : options.maxWaitMs;
      await this.#arrivals.wait(waitMs, options.signal);
      if (this.#lost) throw this.#lost;
    }
    const connection = this.#connection;
    const records: TidemarkRecord[] = [];
    let bytes = 0;
    let redeliveries = 0;
    const now = Date.now();
    while (
      this.#pendingArrivals() > 0 &&
      records.length < options.maxRecords &&
      bytes < options.maxBytes &&
      this.#ledger.heldCount < this.#config.maxInflight
    ) {
      const packet = this.#arrived[this.#arrivedHead]!;
      this.#arrivedHead += 1;
      const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
      const topic = packet.topic.toString();
      let listed: { messageId: number; hash: string; qos: 1 | 2 } | undefined;
      if (packet.qos > 0 && packet.messageId !== undefined) {
        const hash = messageHash(topic, payload);
        if (this.#ledger.arrive(packet.messageId, hash) === 'redelivery') {
          connection?.acknowledge([{ messageId: packet.messageId, qos: packet.qos as 1 | 2 }]);
          this.#acksSinceRound += 1;
          redeliveries += 1;
          continue;
        }
        listed = { messageId: packet.messageId, hash, qos: packet.qos as 1 | 2 };
      }
      const record = toRecord(packet, this.#unit, this.#ledger.hold(listed), now);
      records.push(record);
      bytes += payload.byteLength;
    }
    if (this.#arrivedHead >= 1_024 || this.#arrivedHead === this.#arrived.length) {
      this.#arrived = this.#arrived.slice(this.#arrivedHead);
      this.#arrivedHead = 0;
    }
    this.#confirmAcknowledgements();
    if (redeliveries > 0) {
      this.#logger.info(
        { redeliveries },
        'acknowledged redeliveries of committed messages without emitting them',
      );
    }
    const heldNow = this.#ledger.heldCount;
    const idle = this.#pendingArrivals() === 0 && now - this.#lastArrivalAt >= this.#config.commitRequestMs;
    const commitRequested =
      heldNow > 0 && (heldNow >= this.#config.maxInflight || (records.length === 0 && idle));
    return commitRequested ? { records, commitRequested } : { records };
  }

  async acknowledge(watermark: Watermark): Promise<void> {
    const position = parsePosition(watermark[this.#unit], this.#unit);
    if (position === null) return;
    const covered = this.#ledger.acknowledge(position.seq);
    this.#connection?.acknowledge(covered);
    this.#acksSinceRound += covered.length;
    this.#confirmAcknowledgements();
  }

  async close(): Promise<void> {
    await this.#stop();
  }

  async #start(watermark: Watermark | null): Promise<void> {
    const position = parsePosition(watermark?.[this.#unit], this.#unit);
    this.#ledger.reset(position);
    this.#arrived = [];
    this.#arrivedHead = 0;
    this.#lost = null;
    this.#acksSinceRound = 0;
    this.#connection = await MqttConnection.connect(this.#connectionOptions, {
      onPublish: (packet) => {
        this.#arrived.push(packet);
        this.#lastArrivalAt = Date.now();
        this.#wakeReader();
      },
      onLost: (error) => {
        this.#lost = error;
        this.#logger.warn({ code: error.code, err: error.message }, 'MQTT connection lost; rewinding');
        this.#wakeReader();
      },
    });
    if (position !== null && !this.#connection.sessionPresent) {
      this.#logger.warn(
        { clientId: this.#config.clientId },
        'the broker has no session for this client id although one was committed: messages published while the source was offline are lost (session expired, broker lost its state, or clientId changed)',
      );
    }
    this.#logger.info(
      {
        clientId: this.#config.clientId,
        sessionPresent: this.#connection.sessionPresent,
        seq: this.#ledger.seq,
      },
      'MQTT session opened',
    );
  }

  async #stop(): Promise<void> {
    const connection = this.#connection;
    this.#connection = null;
    this.#arrived = [];
    this.#arrivedHead = 0;
    this.#wakeReader();
    if (connection) await connection.close();
  }

  /** After acknowledgements were sent: a ping whose answer proves the broker processed them. */
  #confirmAcknowledgements(): void {
    const connection = this.#connection;
    if (this.#acksSinceRound === 0 || connection === null || connection.closed) return;
    this.#acksSinceRound = 0;
    const round = this.#ledger.sealRound();
    const ledger = this.#ledger;
    connection.ping(() => {
      if (this.#connection === connection) ledger.confirm(round);
    });
  }

  #pendingArrivals(): number {
    return this.#arrived.length - this.#arrivedHead;
  }

  #wakeReader(): void {
    this.#arrivals.wake();
  }
}

export function createMqttSource(config: MqttSourceConfig, name: string, logger: Logger): MqttSource {
  return new MqttSource(config, name, logger);
}
