import { TidemarkError } from '@tidemark/sdk';

/** What an amqplib error carries that decides its meaning. */
interface ClientError {
  readonly message?: string;
  readonly code?: string | number;
}

/** Certificate and protocol failures: the configuration must change. */
const TLS_CODES =
  /^(DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|CERT_|ERR_TLS_|ERR_SSL_|EPROTO$)/;
/** The peer closed during the handshake: a refused handshake, or a broker restarting. */
const TLS_RESET = /ECONNRESET|socket disconnected before secure/i;

/**
 * Maps a failure to open a connection to `endpoint` (host:port/vhost, never credentials) to a
 * TidemarkError with a fix. `secure` is true for amqps:// (a reset during the handshake is then
 * a refused TLS handshake).
 *
 * - AUTH_FAILED: the broker refused the login (403 ACCESS_REFUSED) or the vhost (530 NOT_ALLOWED).
 * - TLS_FAILED: the certificate did not verify (not retriable), or the broker closed the
 *   connection during the TLS handshake (retriable: a broker restarting does the same).
 * - CONNECTION_FAILED (retriable): anything else (refused, reset, timed out).
 */
export function connectError(thrown: unknown, endpoint: string, secure: boolean): TidemarkError {
  if (TidemarkError.isInstance(thrown)) return thrown;
  const error = (thrown ?? {}) as ClientError;
  const message = String(error.message ?? thrown);
  const code = String(error.code ?? '');
  if (/ACCESS[-_]REFUSED|403/.test(message)) {
    return new TidemarkError('AUTH_FAILED', `amqp: the broker at ${endpoint} refused the login`, {
      cause: thrown,
      fix: 'Check username and password (config username/password, TIDEMARK_AMQP_USERNAME/TIDEMARK_AMQP_PASSWORD, or the URL) and that the user exists on the broker.',
    });
  }
  if (/NOT[-_]ALLOWED|530/.test(message)) {
    return new TidemarkError('AUTH_FAILED', `amqp: the user may not open the virtual host at ${endpoint}`, {
      cause: thrown,
      fix: 'Grant the user permissions on the virtual host (rabbitmqctl set_permissions), or fix the vhost in the URL.',
    });
  }
  const reset = TLS_RESET.test(code) || TLS_RESET.test(message);
  if (secure && (reset || TLS_CODES.test(code) || /certificate|SSL|TLS|handshake/i.test(message))) {
    return new TidemarkError(
      'TLS_FAILED',
      `amqp: TLS handshake with ${endpoint} failed (${code || 'refused'})`,
      {
        cause: thrown,
        retriable: reset,
        fix: 'Check tls.ca trusts the broker certificate, that the URL host matches it (or set tls.servername), the client certificate if the broker requires one, and that the port speaks TLS.',
      },
    );
  }
  return new TidemarkError('CONNECTION_FAILED', `amqp: cannot connect to ${endpoint}: ${code || message}`, {
    cause: thrown,
    fix: 'Check that RabbitMQ runs and that the URL host and port are reachable; the pipeline retries with backoff.',
  });
}

/**
 * Maps an error closing a channel or connection while consuming `queue`.
 *
 * - NOT_FOUND (404): the queue does not exist (or was deleted).
 * - AUTH_FAILED (403): the user may not read it.
 * - CONFIG_INVALID (406 while consuming): the queue's type differs from `queueType`.
 * - CONNECTION_FAILED (retriable): anything else; the pipeline rewinds and reconnects.
 */
export function channelError(
  thrown: unknown,
  queue: string,
  stage: 'check' | 'consume' | 'run',
): TidemarkError {
  if (TidemarkError.isInstance(thrown)) return thrown;
  const error = (thrown ?? {}) as ClientError;
  const message = String(error.message ?? thrown);
  if (error.code === 404 || /NOT[-_]FOUND/.test(message)) {
    return new TidemarkError('NOT_FOUND', `amqp: queue '${queue}' does not exist`, {
      cause: thrown,
      fix: `Declare queue '${queue}' as a durable queue on the broker (or fix the name in queues); the source never declares queues.`,
    });
  }
  if (error.code === 403 || /ACCESS[-_]REFUSED/.test(message)) {
    return new TidemarkError('AUTH_FAILED', `amqp: the user may not read queue '${queue}'`, {
      cause: thrown,
      fix: 'Grant the user read permission on the queue (rabbitmqctl set_permissions).',
    });
  }
  if (stage === 'consume' && (error.code === 406 || /PRECONDITION/.test(message))) {
    return new TidemarkError('CONFIG_INVALID', `amqp: the broker refused to consume '${queue}': ${message}`, {
      cause: thrown,
      fix: 'Set queueType to the type the queue was declared with (classic, quorum or stream).',
    });
  }
  return new TidemarkError('CONNECTION_FAILED', `amqp: lost the channel of queue '${queue}': ${message}`, {
    cause: thrown,
    fix: 'Check the broker and the network; the pipeline reconnects and rewinds to the committed watermark.',
  });
}

/** The queue holds a different type of queue than configured. Not retriable. */
export function queueTypeMismatch(queue: string, configured: string): TidemarkError {
  const actual = configured === 'stream' ? 'a classic or quorum queue' : 'a stream queue';
  return new TidemarkError(
    'CONFIG_INVALID',
    `amqp: queue '${queue}' is ${actual}, configured as ${configured}`,
    {
      fix: `Set queueType to the type queue '${queue}' was declared with; one source reads queues of one type (use two sources to mix them).`,
    },
  );
}
