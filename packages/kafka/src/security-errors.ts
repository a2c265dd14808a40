import { TidemarkError } from '@tidemark/sdk';
import { errorLinks } from './error-links.js';

/** Node's codes for a server certificate that does not verify or does not match the host. */
const CERTIFICATE_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * AUTH_FAILED for a SASL authentication the brokers refused, TLS_FAILED for a TLS handshake that
 * failed (an untrusted or expired certificate, a host name it does not name, a plaintext port
 * spoken to with TLS); null for anything else. Both are not retriable: retrying cannot fix a
 * setting. The messages carry the library's text, which never holds the password or key.
 */
export function securityError(
  error: unknown,
  what: string,
  brokers: readonly string[],
): TidemarkError | null {
  for (const link of errorLinks(error)) {
    const name = typeof link.name === 'string' ? link.name : '';
    const code = typeof link.code === 'string' ? link.code : '';
    const message = typeof link.message === 'string' ? link.message : '';
    if (
      name === 'KafkaJSSASLAuthenticationError' ||
      /SASL_AUTHENTICATION_FAILED|authentication failed/i.test(message)
    ) {
      return new TidemarkError(
        'AUTH_FAILED',
        `${what}: Kafka at ${brokers.join(',')} refused the SASL login (${message})`,
        {
          cause: error,
          retriable: false,
          fix: 'Check sasl.username and sasl.password (the broker does not say whether the user is unknown or the password wrong), and that sasl.mechanism is one the listener enables (e.g. scram-sha-512).',
          details: { brokers, option: 'sasl' },
        },
      );
    }
    if (CERTIFICATE_CODES.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) {
      return new TidemarkError(
        'TLS_FAILED',
        `${what}: the TLS handshake with Kafka at ${brokers.join(',')} failed (${code}: ${message})`,
        {
          cause: error,
          retriable: false,
          fix:
            code === 'ERR_TLS_CERT_ALTNAME_INVALID'
              ? "Connect with a host name the brokers' certificate names (see its subjectAltName), or reissue the certificate."
              : code.startsWith('ERR_SSL_')
                ? 'Check that the port is a TLS listener (ssl: only for SSL or SASL_SSL listeners) and that both sides share a TLS version.'
                : "Set ssl.ca to the PEM of the certificate authority that signed the brokers' certificate (ssl.rejectUnauthorized: false only for a local test).",
          details: { brokers, option: 'ssl', code },
        },
      );
    }
  }
  return null;
}
