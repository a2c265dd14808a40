import { createRequire } from 'node:module';
import { type Logger, silentLogger, TidemarkError } from '@tidemark/sdk';
import kafkajs, {
  type Kafka,
  type KafkaConfig,
  type LogEntry,
  type RetryOptions,
  type SASLOptions,
} from 'kafkajs';
import { type KafkaConnection, tlsOptions } from './connection.js';
import { securityError } from './security-errors.js';

const { Kafka: KafkaClass, logLevel } = kafkajs;

export interface KafkaClientSettings {
  /** Bound on opening one TCP connection (capped at 3 s: kafkajs retries it). */
  readonly connectTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly retry?: RetryOptions;
  readonly logger?: Logger;
  /** kafkajs warnings that are expected and only logged at debug (message prefixes). */
  readonly quietWarnings?: readonly string[];
  /** Overrides the client id of the connection (the lease names host and pid in it). */
  readonly clientId?: string;
}

const PATCHED = Symbol.for('tidemark.kafkajs.idle-timer-fix');

/**
 * kafkajs 2.2.4 re-arms a 1 ms timer forever on every idle connection (its request queue
 * schedules a "throttle check" with a negative delay even when nothing is pending: ~850 timers
 * a second per connection, and a loop that can outlive a closed connection). With nothing
 * pending there is nothing to check (a queued request schedules its own check), so the check
 * is skipped then. Applied once per process, by the first client made.
 */
function fixIdleTimerLoop(): void {
  const require = createRequire(import.meta.url);
  const requestQueue = require('kafkajs/src/network/requestQueue/index.js') as {
    prototype: Record<PropertyKey, unknown> & {
      scheduleCheckPendingRequests: (this: { pending: unknown[] }) => void;
    };
  };
  const prototype = requestQueue.prototype;
  if (prototype[PATCHED]) return;
  const schedule = prototype.scheduleCheckPendingRequests;
  prototype.scheduleCheckPendingRequests = function scheduleWhenPending(this: { pending: unknown[] }) {
    if (this.pending.length > 0) schedule.call(this);
  };
  prototype[PATCHED] = true;
}

/**
 * The one place a kafkajs client is made: brokers, client id, TLS and SASL from the parsed
 * connection options; kafkajs log lines go to `logger` (errors and unexpected warnings at warn,
 * the rest at debug). Creating it does no I/O.
 */
export function createKafka(connection: KafkaConnection, settings: KafkaClientSettings): Kafka {
  fixIdleTimerLoop();
  const logger = settings.logger ?? silentLogger;
  const quiet = settings.quietWarnings ?? [];
  const config: KafkaConfig = {
    clientId: settings.clientId ?? connection.clientId,
    brokers: [...connection.brokers],
    connectionTimeout: Math.min(3_000, settings.connectTimeoutMs),
    requestTimeout: settings.requestTimeoutMs,
    retry: settings.retry ?? { retries: 5, initialRetryTime: 250, maxRetryTime: 4_000 },
    logLevel: logLevel.WARN,
    logCreator: () => (entry: LogEntry) => {
      const { message, timestamp: _timestamp, ...fields } = entry.log;
      const record = { kafkajs: entry.namespace, ...fields };
      const expected = quiet.some((prefix) => message.startsWith(prefix));
      if (!expected && entry.level <= logLevel.WARN) logger.warn(record, message);
      else logger.debug(record, message);
    },
  };
  const ssl = tlsOptions(connection.ssl);
  if (ssl !== false) config.ssl = ssl;
  if (connection.sasl) config.sasl = { ...connection.sasl } as SASLOptions;
  return new KafkaClass(config);
}

/** CONNECTION_FAILED naming the brokers, for a cluster that does not answer. */
export function unreachable(connection: KafkaConnection, cause: unknown): TidemarkError {
  const security = securityError(cause, 'connecting', connection.brokers);
  if (security) return security;
  const message = cause instanceof Error ? cause.message : String(cause);
  return new TidemarkError(
    'CONNECTION_FAILED',
    `cannot reach Kafka at ${connection.brokers.join(', ')}: ${message}`,
    {
      cause,
      fix: 'Check the brokers option, that the brokers run, and that this host can reach them (firewall, TLS, SASL).',
      details: { brokers: connection.brokers, option: 'brokers' },
    },
  );
}
