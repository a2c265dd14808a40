import { TidemarkError } from '@tidemark/sdk';

/** CONNACK codes that mean the broker refused the credentials (3.1.1: 4, 5; MQTT 5: 134, 135, 140). */
const AUTH_CODES = new Set([4, 5, 134, 135, 140]);

/** Node and OpenSSL error codes of a failed TLS handshake. */
const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'EPROTO',
]);

function isTlsFailure(error: { code?: unknown; message?: unknown }): boolean {
  const code = typeof error.code === 'string' ? error.code : '';
  const message = typeof error.message === 'string' ? error.message : '';
  return (
    TLS_CODES.has(code) ||
    code.startsWith('ERR_SSL_') ||
    code.startsWith('ERR_TLS_') ||
    /\b(SSL|TLS)\b|certificate|handshake/i.test(message)
  );
}

/**
 * Maps an mqtt.js or socket error met while connecting or reading to a TidemarkError with a fix.
 * `where` names the broker without credentials; `secure` says whether the URL was mqtts://.
 *
 * - AUTH_FAILED (not retriable): the broker refused the user name, password or client id.
 * - TLS_FAILED (not retriable): the TLS handshake failed (untrusted certificate, host name, alert).
 * - CONNECTION_FAILED (retriable): refused, unreachable, reset, timed out, keepalive lost.
 */
export function toMqttError(error: unknown, where: string, secure: boolean): TidemarkError {
  if (TidemarkError.isInstance(error)) return error;
  const detail = error instanceof Error ? error : new Error(String(error));
  const { code } = detail as { code?: unknown };
  if (typeof code === 'number' && AUTH_CODES.has(code)) {
    return new TidemarkError(
      'AUTH_FAILED',
      `MQTT broker ${where} refused the connection: ${detail.message}`,
      {
        cause: error,
        retriable: false,
        fix: 'Check username and password (or TIDEMARK_MQTT_USERNAME / TIDEMARK_MQTT_PASSWORD) and that the broker ACL allows this client id to connect and subscribe.',
        details: { reasonCode: code },
      },
    );
  }
  if (secure && isTlsFailure(detail as { code?: unknown; message?: unknown })) {
    return new TidemarkError(
      'TLS_FAILED',
      `TLS handshake with MQTT broker ${where} failed: ${detail.message}`,
      {
        cause: error,
        retriable: false,
        fix: "Trust the broker's certificate authority with tls.ca, check that the URL host matches the certificate (or set tls.servername), and supply tls.cert/tls.key if the broker requires client certificates.",
        details: typeof code === 'string' ? { code } : {},
      },
    );
  }
  if (typeof code === 'number') {
    return new TidemarkError(
      'CONNECTION_FAILED',
      `MQTT broker ${where} refused the connection: ${detail.message}`,
      {
        cause: error,
        retriable: code < 128 || code === 136 || code === 137 || code === 159,
        fix: 'See the reason code in the message; check the client id, protocolVersion and the broker configuration.',
        details: { reasonCode: code },
      },
    );
  }
  return new TidemarkError('CONNECTION_FAILED', `MQTT broker ${where} is unreachable: ${detail.message}`, {
    cause: error,
    retriable: true,
    fix: 'Check that the broker runs and that url (host and port) is right and reachable from this machine; the pipeline retries with backoff.',
    details: typeof code === 'string' ? { code } : {},
  });
}

/** The connection dropped while the source was reading: the runtime rewinds and reconnects. */
export function connectionLost(where: string, cause?: unknown): TidemarkError {
  return new TidemarkError('CONNECTION_FAILED', `connection to MQTT broker ${where} was lost`, {
    cause,
    retriable: true,
    fix: 'Nothing to do if it recovers: the pipeline reconnects, and the broker redelivers what was not acknowledged. If it persists, check the broker and the network.',
  });
}
