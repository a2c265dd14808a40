import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultBrokers } from './connection.js';

/** How to reach the secure listener of the local test broker. */
export interface LocalSecureListener {
  readonly brokers: string[];
  /** PEM of the test CA that signed the listener's certificate. */
  readonly ca: string;
  readonly mechanism: 'scram-sha-512';
  readonly username: string;
  readonly password: string;
}

/**
 * For integration tests: the TLS + SASL/SCRAM-SHA-512 listener that `npm run services -- up`
 * gives the local broker (the broker port + 2, or `TIDEMARK_KAFKA_SECURE_PORT`), its test user,
 * and the test CA from the services state folder (`TIDEMARK_SERVICES_DIR`, default
 * `<repo>/.tidemark/services`). Throws saying what to do when that broker was not started so.
 */
export function localSecureListener(environment: NodeJS.ProcessEnv = process.env): LocalSecureListener {
  const [first = '127.0.0.1:9092'] = defaultBrokers(environment);
  const separator = first.lastIndexOf(':');
  const port = environment.TIDEMARK_KAFKA_SECURE_PORT
    ? Number(environment.TIDEMARK_KAFKA_SECURE_PORT)
    : Number(first.slice(separator + 1)) + 2;
  const servicesDirectory = environment.TIDEMARK_SERVICES_DIR
    ? resolve(environment.TIDEMARK_SERVICES_DIR)
    : fileURLToPath(new URL('../../../.tidemark/services', import.meta.url));
  const caFile = join(servicesDirectory, 'kafka', 'tls', 'ca.pem');
  if (!existsSync(caFile)) {
    throw new Error(
      `no test CA at ${caFile}: the Kafka broker was not started by 'npm run services -- up' with its secure listener. Set TIDEMARK_SERVICES_DIR to the state folder of the broker that was; a broker started before the listener existed must be restarted.`,
    );
  }
  return {
    brokers: [`${first.slice(0, separator)}:${port}`],
    ca: readFileSync(caFile, 'utf8'),
    mechanism: 'scram-sha-512',
    username: 'tidemark',
    password: 'tidemark-test-secret',
  };
}

/** What to change in a secure connection: another user or password, or `ca: null` for the system CAs. */
export interface SecureOverrides {
  readonly username?: string;
  readonly password?: string;
  readonly ca?: string | null;
}

/** The connection options (brokers, ssl, sasl) of `listener`, with `overrides` applied. */
export function secureConnection(listener: LocalSecureListener, overrides: SecureOverrides = {}) {
  return {
    brokers: listener.brokers,
    ssl: overrides.ca === null ? true : { ca: overrides.ca ?? listener.ca },
    sasl: {
      mechanism: listener.mechanism,
      username: overrides.username ?? listener.username,
      password: overrides.password ?? listener.password,
    },
  };
}

/** The refusals every Kafka connector must report as a typed error naming the setting to fix. */
export const SECURITY_FAILURES: readonly {
  readonly case: string;
  readonly overrides: SecureOverrides;
  readonly code: 'AUTH_FAILED' | 'TLS_FAILED';
  readonly fix: RegExp;
}[] = [
  {
    case: 'a wrong password',
    overrides: { password: 'not-the-password-7f3a' },
    code: 'AUTH_FAILED',
    fix: /sasl\.password/,
  },
  {
    case: 'an unknown user',
    overrides: { username: 'nobody-here', password: 'unknown-user-secret-9c' },
    code: 'AUTH_FAILED',
    fix: /sasl\.username/,
  },
  { case: 'an untrusted certificate', overrides: { ca: null }, code: 'TLS_FAILED', fix: /ssl\.ca/ },
];

/** Everything an operator can see of an error: message, fix, details and the causes' messages. */
export function operatorVisibleText(error: {
  message: string;
  fix?: string | undefined;
  details?: unknown;
  cause?: unknown;
}): string {
  const parts: string[] = [error.message, error.fix ?? '', JSON.stringify(error.details ?? {})];
  for (let cause: unknown = error.cause; cause instanceof Error; cause = cause.cause)
    parts.push(cause.message);
  return parts.join('\n');
}
