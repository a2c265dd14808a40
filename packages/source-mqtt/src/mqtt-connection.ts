import { TidemarkError } from '@tidemark/sdk';
import mqtt, {
  type IClientOptions,
  type IConnackPacket,
  type IPublishPacket,
  type MqttClient,
  type Packet,
} from 'mqtt';
import {
  credentialsOf,
  type MqttSourceConfig,
  redactUrl,
  type Subscription,
  subscriptionsOf,
} from './config.js';
import { connectionLost, toMqttError } from './errors.js';

/** How to reach and identify the session. Secrets stay in here; `where` is safe to print. */
export interface ConnectionOptions {
  readonly url: string;
  readonly where: string;
  readonly clientId: string;
  readonly protocolVersion: 4 | 5;
  readonly sessionExpirySeconds: number;
  readonly keepaliveSeconds: number;
  readonly connectTimeoutMs: number;
  readonly maxInflight: number;
  readonly subscriptions: readonly Subscription[];
  readonly username?: string;
  readonly password?: string;
  readonly tls?: {
    readonly ca?: string | undefined;
    readonly cert?: string | undefined;
    readonly key?: string | undefined;
    readonly rejectUnauthorized: boolean;
    readonly servername?: string | undefined;
  };
}

/** What the connection reports, synchronously, in the order the broker sent it. */
export interface ConnectionListener {
  /** A PUBLISH arrived (any QoS). Its acknowledgement is not sent until `acknowledge`. */
  onPublish(packet: IPublishPacket): void;
  /** The connection is gone (not after `close()`): everything unacknowledged comes back on reconnect. */
  onLost(error: TidemarkError): void;
}

type SendPacket = (packet: Packet, callback?: (error?: Error) => void, ...rest: unknown[]) => void;

/**
 * One network connection of a persistent session (clean session off; MQTT 5 with a session
 * expiry), opened by `connect`. Never reconnects by itself: after a loss the source rewinds and
 * opens a new one, and the broker redelivers what was not acknowledged.
 *
 * mqtt.js acknowledges a QoS 1 PUBLISH (PUBACK) and a QoS 2 PUBLISH (PUBREC) as soon as it has
 * handled it. This wrapper swallows those automatic acknowledgements and sends them only when
 * `acknowledge` is called, so packet handling (keepalive included) never waits for a commit.
 * QoS 2 completes as usual after the PUBREC: the broker's PUBREL is answered with PUBCOMP.
 */
export class MqttConnection {
  readonly sessionPresent: boolean;
  readonly #client: MqttClient;
  readonly #send: SendPacket;
  /** One entry per PINGREQ sent (mqtt.js keepalive pings: null), answered in order. */
  readonly #pings: Array<(() => void) | null>;
  #closed = false;

  private constructor(
    client: MqttClient,
    send: SendPacket,
    pings: Array<(() => void) | null>,
    sessionPresent: boolean,
  ) {
    this.#client = client;
    this.#send = send;
    this.#pings = pings;
    this.sessionPresent = sessionPresent;
  }

  /**
   * Connects, resumes or creates the session, and subscribes (MQTT 5: always, with retain
   * handling "only for new subscriptions"; 3.1.1: only when the broker has no session, since
   * subscribing again would resend retained messages). Throws AUTH_FAILED, TLS_FAILED or
   * CONNECTION_FAILED (see errors.ts).
   */
  static async connect(options: ConnectionOptions, listener: ConnectionListener): Promise<MqttConnection> {
    const secure = /^(mqtts|ssl|tls):/i.test(options.url);
    const client = mqtt.connect(options.url, clientOptions(options));
    const internal = client as unknown as { _sendPacket: SendPacket };
    const send = internal._sendPacket.bind(client) as SendPacket;
    const pings: Array<(() => void) | null> = [];
    internal._sendPacket = (packet, callback, ...rest) => {
      if (packet.cmd === 'puback' || packet.cmd === 'pubrec') {
        callback?.();
        return;
      }
      if (packet.cmd === 'pingreq') pings.push(null);
      send(packet, callback, ...rest);
    };
    client.on('packetreceive', (packet) => {
      if (packet.cmd === 'publish') listener.onPublish(packet);
      else if (packet.cmd === 'pingresp') pings.shift()?.();
    });
    let lastError: unknown;
    client.on('error', (error) => {
      lastError = error;
    });
    let connack: IConnackPacket;
    try {
      connack = await awaitConnack(client, options.connectTimeoutMs);
    } catch (error) {
      client.end(true);
      throw toMqttError(error, options.where, secure);
    }
    const opened = new MqttConnection(client, send, pings, connack.sessionPresent);
    client.on('close', () => {
      if (opened.#closed) return;
      opened.#closed = true;
      client.end(true);
      listener.onLost(
        lastError === undefined
          ? connectionLost(options.where)
          : toMqttError(lastError, options.where, secure),
      );
    });
    try {
      if (options.protocolVersion === 5 || !connack.sessionPresent) await opened.#subscribe(options);
    } catch (error) {
      await opened.close();
      throw error;
    }
    return opened;
  }

  /** True once the connection is lost or closed: acknowledgements can no longer be sent. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Sends the acknowledgements (PUBACK for QoS 1, PUBREC for QoS 2) of `messages`, in order, in
   * as few socket writes as possible. No-op once closed.
   */
  acknowledge(messages: Iterable<{ readonly messageId: number; readonly qos: 1 | 2 }>): void {
    if (this.#closed) return;
    const stream = this.#client.stream;
    stream.cork();
    try {
      for (const { messageId, qos } of messages) {
        this.#send({ cmd: qos === 1 ? 'puback' : 'pubrec', messageId } as Packet);
      }
    } finally {
      stream.uncork();
    }
  }

  /**
   * Sends a PINGREQ; `answered` runs on its PINGRESP, which proves the broker processed every
   * packet written before it. Never runs if the connection is lost first.
   */
  ping(answered: () => void): void {
    if (this.#closed) return;
    this.#pings.push(answered);
    this.#send({ cmd: 'pingreq' } as Packet);
  }

  /**
   * Flushes what was written (acknowledgements) and disconnects normally: the session and its
   * unacknowledged messages stay with the broker. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) {
      this.#client.end(true);
      return;
    }
    this.#closed = true;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#client.end(true);
        resolve();
      }, 2_000);
      this.#client.end(false, {}, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  async #subscribe(options: ConnectionOptions): Promise<void> {
    const topics: Record<string, { qos: 0 | 1 | 2; rh?: number }> = {};
    for (const subscription of options.subscriptions) {
      topics[subscription.topic] =
        options.protocolVersion === 5 ? { qos: subscription.qos, rh: 1 } : { qos: subscription.qos };
    }
    let timer: NodeJS.Timeout | undefined;
    const granted = await Promise.race([
      this.#client.subscribeAsync(topics),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              connectionLost(options.where, new Error(`no SUBACK within ${options.connectTimeoutMs} ms`)),
            ),
          options.connectTimeoutMs,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    const refused = granted.filter((grant) => grant.qos >= 128);
    if (refused.length > 0) {
      throw new TidemarkError(
        'AUTH_FAILED',
        `MQTT broker ${options.where} refused the subscription to ${refused.map((grant) => grant.topic).join(', ')}`,
        {
          retriable: false,
          fix: 'Check the topic filters and that the broker ACL lets this user subscribe to them.',
          details: { codes: refused.map((grant) => grant.qos) },
        },
      );
    }
  }
}

/** The connection options of a source configuration (credentials from the config or the environment). */
export function connectionOptionsOf(config: MqttSourceConfig): ConnectionOptions {
  return {
    url: config.url,
    where: redactUrl(config.url),
    clientId: config.clientId,
    protocolVersion: config.protocolVersion,
    sessionExpirySeconds: config.sessionExpirySeconds,
    keepaliveSeconds: config.keepaliveSeconds,
    connectTimeoutMs: config.connectTimeoutMs,
    maxInflight: config.maxInflight,
    subscriptions: subscriptionsOf(config),
    ...credentialsOf(config),
    ...(config.tls === undefined ? {} : { tls: config.tls }),
  };
}

/**
 * Preflight for `tidemark validate --connect`: connects once with a throwaway clean session
 * (never the source's own client id, which would take over a running pipeline's session) and
 * leaves. Throws AUTH_FAILED, TLS_FAILED or CONNECTION_FAILED naming the fix.
 */
export async function checkConnection(config: MqttSourceConfig): Promise<void> {
  const options = connectionOptionsOf(config);
  const secure = /^(mqtts|ssl|tls):/i.test(options.url);
  const { properties: _session, ...base } = clientOptions(options);
  const client = mqtt.connect(options.url, {
    ...base,
    clientId: `${config.clientId.slice(0, 40)}-check-${Math.random().toString(36).slice(2, 10)}`,
    clean: true,
  });
  client.on('error', () => undefined);
  try {
    await awaitConnack(client, options.connectTimeoutMs);
  } catch (error) {
    throw toMqttError(error, options.where, secure);
  } finally {
    await client.endAsync(true);
  }
}

/** Resolves with the CONNACK; rejects on an error, a close or after `timeoutMs`. */
function awaitConnack(client: MqttClient, timeoutMs: number): Promise<IConnackPacket> {
  return new Promise((resolve, reject) => {
    let lastError: unknown;
    const timer = setTimeout(() => reject(new Error(`no CONNACK within ${timeoutMs} ms`)), timeoutMs);
    client.once('connect', (packet) => {
      clearTimeout(timer);
      resolve(packet);
    });
    client.once('error', (error) => {
      lastError = error;
      clearTimeout(timer);
      reject(error);
    });
    client.once('close', () => {
      clearTimeout(timer);
      reject(lastError ?? new Error('connection closed before CONNACK'));
    });
  });
}

function clientOptions(options: ConnectionOptions): IClientOptions {
  return {
    clientId: options.clientId,
    clean: false,
    protocolVersion: options.protocolVersion,
    keepalive: options.keepaliveSeconds,
    connectTimeout: options.connectTimeoutMs,
    reconnectPeriod: 0,
    resubscribe: false,
    queueQoSZero: false,
    ...(options.protocolVersion === 5
      ? {
          properties: {
            sessionExpiryInterval: options.sessionExpirySeconds,
            receiveMaximum: options.maxInflight,
          },
        }
      : {}),
    ...(options.username === undefined ? {} : { username: options.username }),
    ...(options.password === undefined ? {} : { password: options.password }),
    ...(options.tls === undefined
      ? {}
      : {
          rejectUnauthorized: options.tls.rejectUnauthorized,
          ...(options.tls.ca === undefined ? {} : { ca: options.tls.ca }),
          ...(options.tls.cert === undefined ? {} : { cert: options.tls.cert }),
          ...(options.tls.key === undefined ? {} : { key: options.tls.key }),
          ...(options.tls.servername === undefined ? {} : { servername: options.tls.servername }),
        }),
  };
}
