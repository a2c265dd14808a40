import type { AmqpSourceConfig } from './config.js';

/** amqplib's connect arguments for one source, resolved once. Holds secrets: never log it. */
export interface ConnectSettings {
  readonly options: {
    readonly protocol: 'amqp' | 'amqps';
    readonly hostname: string;
    readonly port: number;
    readonly username: string;
    readonly password: string;
    readonly vhost: string;
    readonly heartbeat: number;
    readonly frameMax: number;
    readonly locale: string;
  };
  readonly socket: Record<string, unknown>;
  /** host:port/vhost: what messages and logs may name. */
  readonly endpoint: string;
  readonly secure: boolean;
}

/**
 * Resolves the URL, credentials (config, then TIDEMARK_AMQP_USERNAME / TIDEMARK_AMQP_PASSWORD,
 * then the URL, then guest/guest) and TLS options. Pure: no I/O.
 */
export function connectSettings(
  config: AmqpSourceConfig,
  sourceName: string,
  environment: NodeJS.ProcessEnv = process.env,
): ConnectSettings {
  const url = new URL(config.url);
  const secure = url.protocol === 'amqps:';
  const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1';
  const port = url.port ? Number(url.port) : secure ? 5671 : 5672;
  const path = decodeURIComponent(url.pathname.replace(/^\//, ''));
  const vhost = path === '' ? '/' : path;
  const username =
    config.username ??
    environment.TIDEMARK_AMQP_USERNAME ??
    (url.username ? decodeURIComponent(url.username) : 'guest');
  const password =
    config.password ??
    environment.TIDEMARK_AMQP_PASSWORD ??
    (url.password ? decodeURIComponent(url.password) : 'guest');
  const socket: Record<string, unknown> = {
    timeout: config.connectTimeoutMs,
    noDelay: true,
    clientProperties: { connection_name: `${config.connectionName}:${sourceName}` },
  };
  if (secure) {
    const tls = config.tls;
    socket.rejectUnauthorized = tls?.rejectUnauthorized ?? true;
    if (tls?.ca) socket.ca = [tls.ca];
    if (tls?.cert) socket.cert = tls.cert;
    if (tls?.key) socket.key = tls.key;
    if (tls?.passphrase) socket.passphrase = tls.passphrase;
    if (tls?.servername) socket.servername = tls.servername;
  }
  return {
    options: {
      protocol: secure ? 'amqps' : 'amqp',
      hostname,
      port,
      username,
      password,
      vhost,
      heartbeat: config.heartbeatSeconds,
      frameMax: 0,
      locale: 'en_US',
    },
    socket,
    endpoint: `${hostname}:${port}/${vhost === '/' ? '' : vhost}`,
    secure,
  };
}
