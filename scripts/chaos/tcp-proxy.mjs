// A loopback TCP proxy the chaos harness controls: pipelines connect to the proxy instead of the
// server, and `cut()` drops every open connection at once (both directions, no FIN handshake
// wait), as a network failure between the pipeline and its broker or database would.
// Plain Node ESM; used by the chaos scenarios of brokers that push (AMQP, MQTT) and databases.

import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';

export class TcpProxy {
  /**
   * @param {{ targetHost?: string, targetPort: number, listenPort?: number }} options
   *   `listenPort` 0 (the default) picks a free port; read it from `port` after `start()`.
   */
  constructor({ targetHost = '127.0.0.1', targetPort, listenPort = 0 }) {
    this.targetHost = targetHost;
    this.targetPort = targetPort;
    this.listenPort = listenPort;
    /** @type {Set<net.Socket>} */
    this.sockets = new Set();
    this.cuts = 0;
    this.refusing = false;
    this.server = undefined;
    this.port = undefined;
  }

  /** Starts listening on 127.0.0.1; resolves with the port. */
  async start() {
    this.server = net.createServer((client) => this.#accept(client));
    await new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.listenPort, '127.0.0.1', () => resolve(undefined));
    });
    this.port = /** @type {net.AddressInfo} */ (this.server.address()).port;
    return this.port;
  }

  #accept(client) {
    if (this.refusing) {
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect(this.targetPort, this.targetHost);
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.setNoDelay(true);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  }

  /** Resets every open connection (RST where possible). New connections are accepted again at once. */
  cut() {
    this.cuts += 1;
    for (const socket of this.sockets) {
      if (typeof socket.resetAndDestroy === 'function' && !socket.destroyed) socket.resetAndDestroy();
      else socket.destroy();
    }
    this.sockets.clear();
  }

  /** Cuts every connection and refuses new ones for `milliseconds` (a short outage). */
  async outage(milliseconds) {
    this.refusing = true;
    this.cut();
    await delay(milliseconds);
    this.refusing = false;
  }

  /** Number of connections currently open through the proxy (both sides counted once each). */
  get connections() {
    return this.sockets.size;
  }

  async close() {
    this.cut();
    if (this.server) await new Promise((resolve) => this.server.close(() => resolve(undefined)));
    this.server = undefined;
  }
}
