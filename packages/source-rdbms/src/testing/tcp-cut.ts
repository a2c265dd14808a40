import net from 'node:net';

/** A loopback TCP proxy for tests: `cut()` resets every connection through it, as a network failure would. */
export class CuttableProxy {
  readonly #sockets = new Set<net.Socket>();
  readonly #server: net.Server;

  constructor(targetPort: number) {
    this.#server = net.createServer((client) => {
      const upstream = net.connect(targetPort, '127.0.0.1');
      for (const socket of [client, upstream]) {
        this.#sockets.add(socket);
        socket.on('close', () => this.#sockets.delete(socket));
        socket.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  /** Starts listening; resolves with the port. */
  async start(): Promise<number> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return (this.#server.address() as net.AddressInfo).port;
  }

  /** Resets every open connection; new ones are accepted. Returns how many were cut. */
  cut(): number {
    const count = this.#sockets.size;
    for (const socket of this.#sockets) socket.resetAndDestroy();
    this.#sockets.clear();
    return count;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
