import net from 'node:net';

/** Kafka API keys the proxy reads. */
const PRODUCE = 0;
const METADATA = 3;
const FIND_COORDINATOR = 10;
const DESCRIBE_CLUSTER = 60;
/** First Produce version with flexible (tagged-field) encoding. */
const PRODUCE_FLEXIBLE_FROM = 9;

/** Names of the Produce error codes a late request of an old transaction can meet. */
const ERROR_NAMES: Readonly<Record<number, string>> = {
  0: 'NONE',
  45: 'OUT_OF_ORDER_SEQUENCE_NUMBER',
  46: 'DUPLICATE_SEQUENCE_NUMBER',
  47: 'INVALID_PRODUCER_EPOCH',
  48: 'INVALID_TXN_STATE',
  90: 'PRODUCER_FENCED',
};

/** The broker's answer, per partition, to one Produce request the proxy held and then released. */
export interface ReleasedProduce {
  readonly partitions: readonly {
    readonly topic: string;
    readonly partition: number;
    readonly errorCode: number;
  }[];
}

/** The Kafka name of a Produce error code (`ERROR_<code>` for one the proxy does not name). */
export function produceErrorName(code: number): string {
  return ERROR_NAMES[code] ?? `ERROR_${code}`;
}

/**
 * For integration tests: a loopback proxy in front of one Kafka broker that can hold Produce
 * requests, as a network or a broker queue that delays them would.
 *
 * Clients bootstrap through `address`; the broker's own address in Metadata, FindCoordinator
 * and DescribeCluster answers is rewritten to the proxy's (same host, the proxy's port), so
 * every later connection of the client comes through the proxy too. Call order: `start`, then
 * `holdProduce` to keep every client→broker Produce request from then on (everything else is
 * forwarded), `release` to send the held requests to the broker (each on a connection of its
 * own: the client that sent it may be gone) and read its answers, `close`.
 */
export class KafkaTestProxy {
  readonly #host: string;
  readonly #port: number;
  readonly #sockets = new Set<net.Socket>();
  #server: net.Server | undefined;
  #listenPort = 0;
  #holding = false;
  #held: Buffer[] = [];

  constructor(broker: string) {
    const separator = broker.lastIndexOf(':');
    this.#host = broker.slice(0, separator);
    this.#port = Number(broker.slice(separator + 1));
  }

  /** Starts listening on a free loopback port; resolves with the proxy's `host:port`. */
  async start(): Promise<string> {
    const server = net.createServer((client) => this.#accept(client));
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.#listenPort = (server.address() as net.AddressInfo).port;
    return this.address;
  }

  /** The proxy's `host:port` (after `start`). */
  get address(): string {
    return `127.0.0.1:${this.#listenPort}`;
  }

  /** Produce requests held so far and not released. */
  get held(): number {
    return this.#held.length;
  }

  /** From now on, keeps client→broker Produce requests instead of forwarding them. */
  holdProduce(): void {
    this.#holding = true;
  }

  /**
   * Stops holding, sends each held Produce request to the broker in the order the clients sent
   * it, one after the other, and resolves with the broker's answers in that order.
   */
  async release(): Promise<ReleasedProduce[]> {
    this.#holding = false;
    const held = this.#held;
    this.#held = [];
    const answers: ReleasedProduce[] = [];
    for (const request of held) answers.push(parseProduceResponse(await this.#exchange(request), request));
    return answers;
  }

  /** Closes every connection and stops listening. Held requests are dropped. */
  async close(): Promise<void> {
    this.#held = [];
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    const server = this.#server;
    this.#server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #accept(client: net.Socket): void {
    const upstream = net.connect(this.#port, this.#host);
    /** Correlation id → API key of the requests in flight on this connection. */
    const requests = new Map<number, number>();
    for (const socket of [client, upstream]) {
      this.#sockets.add(socket);
      socket.setNoDelay(true);
      socket.on('close', () => {
        this.#sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
      socket.on('error', () => socket.destroy());
    }
    client.on(
      'data',
      framer((request) => {
        const apiKey = request.readInt16BE(4);
        if (apiKey === PRODUCE && this.#holding) {
          this.#held.push(request);
          return;
        }
        requests.set(request.readInt32BE(8), apiKey);
        upstream.write(request);
      }),
    );
    upstream.on(
      'data',
      framer((response) => {
        const correlationId = response.readInt32BE(4);
        const apiKey = requests.get(correlationId);
        requests.delete(correlationId);
        if (apiKey === METADATA || apiKey === FIND_COORDINATOR || apiKey === DESCRIBE_CLUSTER)
          this.#advertiseProxy(response);
        client.write(response);
      }),
    );
  }

  /**
   * Rewrites, in place, every broker address equal to the proxied broker's (its host string
   * followed by its int32 port) to the proxy's port. The host stays, so no length changes.
   */
  #advertiseProxy(response: Buffer): void {
    const host = Buffer.from(this.#host, 'utf8');
    const pattern = Buffer.alloc(host.length + 4);
    host.copy(pattern);
    pattern.writeInt32BE(this.#port, host.length);
    for (
      let at = response.indexOf(pattern, 8);
      at !== -1;
      at = response.indexOf(pattern, at + pattern.length)
    )
      response.writeInt32BE(this.#listenPort, at + host.length);
  }

  /** Sends one request frame to the broker on a new connection and resolves with the response frame. */
  #exchange(request: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(this.#port, this.#host);
      socket.setTimeout(10_000, () => socket.destroy(new Error('no answer to a released Produce request')));
      socket.on('error', reject);
      socket.on(
        'data',
        framer((response) => {
          socket.destroy();
          resolve(response);
        }),
      );
      socket.write(request);
    });
  }
}

/** A `data` listener that reassembles size-prefixed Kafka frames and hands each, whole, to `onFrame`. */
function framer(onFrame: (frame: Buffer) => void): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  return (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 4) {
      const end = 4 + pending.readInt32BE(0);
      if (pending.length < end) return;
      onFrame(pending.subarray(0, end));
      pending = pending.subarray(end);
    }
  };
}

/** Reads the topic, partition and error code of every partition of a Produce response. */
function parseProduceResponse(response: Buffer, request: Buffer): ReleasedProduce {
  const version = request.readInt16BE(6);
  const flexible = version >= PRODUCE_FLEXIBLE_FROM;
  const reader = new FrameReader(response, 8);
  if (flexible) reader.skipTaggedFields();
  const partitions: { topic: string; partition: number; errorCode: number }[] = [];
  for (let topics = reader.arrayLength(flexible); topics > 0; topics -= 1) {
    const topic = reader.string(flexible) ?? '';
    for (let count = reader.arrayLength(flexible); count > 0; count -= 1) {
      const partition = reader.int32();
      const errorCode = reader.int16();
      partitions.push({ topic, partition, errorCode });
      reader.skip(8); // base_offset
      if (version >= 2) reader.skip(8); // log_append_time_ms
      if (version >= 5) reader.skip(8); // log_start_offset
      if (version >= 8) {
        for (let errors = reader.arrayLength(flexible); errors > 0; errors -= 1) {
          reader.skip(4); // batch_index
          reader.string(flexible); // batch_index_error_message
          if (flexible) reader.skipTaggedFields();
        }
        reader.string(flexible); // error_message
      }
      if (flexible) reader.skipTaggedFields();
    }
    if (flexible) reader.skipTaggedFields();
  }
  return { partitions };
}

/** Reads the Kafka protocol's primitive types from a frame. */
class FrameReader {
  readonly #frame: Buffer;
  #at: number;

  constructor(frame: Buffer, at: number) {
    this.#frame = frame;
    this.#at = at;
  }

  skip(bytes: number): void {
    this.#at += bytes;
  }

  int16(): number {
    const value = this.#frame.readInt16BE(this.#at);
    this.#at += 2;
    return value;
  }

  int32(): number {
    const value = this.#frame.readInt32BE(this.#at);
    this.#at += 4;
    return value;
  }

  unsignedVarint(): number {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = this.#frame.readUInt8(this.#at);
      this.#at += 1;
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return value;
    }
  }

  /** An array's element count (a null array counts as empty). */
  arrayLength(flexible: boolean): number {
    return flexible ? Math.max(0, this.unsignedVarint() - 1) : Math.max(0, this.int32());
  }

  /** A nullable string. */
  string(flexible: boolean): string | null {
    const length = flexible ? this.unsignedVarint() - 1 : this.int16();
    if (length < 0) return null;
    const value = this.#frame.toString('utf8', this.#at, this.#at + length);
    this.#at += length;
    return value;
  }

  skipTaggedFields(): void {
    for (let fields = this.unsignedVarint(); fields > 0; fields -= 1) {
      this.unsignedVarint(); // tag
      this.skip(this.unsignedVarint());
    }
  }
}
