/**
 * Typed errors shared by the runtime, the connectors and the CLI.
 *
 * Every error Tidemark raises on purpose is a {@link TidemarkError} with a stable `code`, a
 * `retriable` flag the runtime acts on, an optional `cause`, and a `fix`: one sentence telling
 * the user what to do about it. Use {@link TidemarkError.isInstance} rather than `instanceof`:
 * it works across duplicate copies of this package in one process (a plugin that bundles its
 * own copy of the SDK, say).
 */

export const ERROR_CODES = [
  /** A configuration value is missing, malformed or contradicts another. Not retriable. */
  'CONFIG_INVALID',
  /** A connector type or package could not be resolved. Not retriable. */
  'CONNECTOR_UNKNOWN',
  /** A plugin was built for a specification version this core does not speak. Not retriable. */
  'SPEC_VERSION_UNSUPPORTED',
  /** A server could not be reached or dropped the connection. Retriable. */
  'CONNECTION_FAILED',
  /** An operation was attempted on a connector that is not open. Retriable after reopen. */
  'NOT_CONNECTED',
  /** A finite source has yielded everything it will ever yield. Control flow, not a failure. */
  'END_OF_INPUT',
  /** The connector asks the runtime to wait `backoffMs` before trying again. Retriable. */
  'BACK_OFF',
  /** One record cannot be processed (bad payload, transform threw). Handled by the poison policy. */
  'POISON_RECORD',
  /** A transaction commit was sent but its outcome is unknown. Never abort after this: recover. */
  'COMMIT_UNCERTAIN',
  /** Another instance with the same transactional identity took over. This instance must stop. */
  'FENCED',
  /** A lifecycle method was called in a state where it is not allowed. A bug: not retriable. */
  'ILLEGAL_STATE',
  /** A watermark could not be parsed, or moved backwards. Not retriable. */
  'WATERMARK_INVALID',
  /** The disk is full or a write to local storage failed. Retriable once space is freed. */
  'STORAGE_FULL',
  /** An operation did not finish in time. Retriable. */
  'TIMEOUT',
  /** The retry budget of a pipeline is spent. Not retriable. */
  'RETRIES_EXHAUSTED',
  /** The server refused the credentials (unknown user, wrong password, missing permission). Not retriable. */
  'AUTH_FAILED',
  /** A TLS handshake failed (untrusted or expired certificate, wrong host name, protocol mismatch). Not retriable. */
  'TLS_FAILED',
  /** A named resource does not exist on the server (queue, stream, table, topic). Not retriable. */
  'NOT_FOUND',
  /** A sink's target does not match what the pipeline writes (missing column, wrong type, NOT NULL). Not retriable. */
  'SCHEMA_MISMATCH',
  /** Anything else: an unexpected failure inside Tidemark or a client library. Retriable. */
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

const MARKER = Symbol.for('tidemark.error');

export interface TidemarkErrorOptions {
  /** Whether the runtime may retry the failed step; defaults per code (see {@link RETRIABLE_BY_DEFAULT}). */
  retriable?: boolean;
  /** The lower-level error that caused this one. */
  cause?: unknown;
  /** One sentence telling the user how to fix the cause. */
  fix?: string;
  /** Structured details for logs (never secrets). */
  details?: Record<string, unknown>;
}

export const RETRIABLE_BY_DEFAULT: Readonly<Record<ErrorCode, boolean>> = {
  CONFIG_INVALID: false,
  CONNECTOR_UNKNOWN: false,
  SPEC_VERSION_UNSUPPORTED: false,
  CONNECTION_FAILED: true,
  NOT_CONNECTED: true,
  END_OF_INPUT: false,
  BACK_OFF: true,
  POISON_RECORD: false,
  COMMIT_UNCERTAIN: true,
  FENCED: false,
  ILLEGAL_STATE: false,
  WATERMARK_INVALID: false,
  STORAGE_FULL: true,
  TIMEOUT: true,
  RETRIES_EXHAUSTED: false,
  AUTH_FAILED: false,
  TLS_FAILED: false,
  NOT_FOUND: false,
  SCHEMA_MISMATCH: false,
  INTERNAL: true,
};

export class TidemarkError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly fix: string | undefined;
  readonly details: Record<string, unknown> | undefined;
  readonly [MARKER] = true;

  constructor(code: ErrorCode, message: string, options: TidemarkErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TidemarkError';
    this.code = code;
    this.retriable = options.retriable ?? RETRIABLE_BY_DEFAULT[code];
    this.fix = options.fix;
    this.details = options.details;
  }

  /** True for any TidemarkError, including ones created by another copy of this package. */
  static isInstance(value: unknown): value is TidemarkError {
    return typeof value === 'object' && value !== null && (value as { [MARKER]?: unknown })[MARKER] === true;
  }

  /** True when `value` is a TidemarkError with the given code. */
  static hasCode(value: unknown, code: ErrorCode): value is TidemarkError {
    return TidemarkError.isInstance(value) && value.code === code;
  }

  /** Message plus the fix, as shown to users. */
  describe(): string {
    return this.fix ? `${this.message}\n  fix: ${this.fix}` : this.message;
  }
}

/** A transaction was sent to commit and its outcome is unknown. The runtime recovers, never aborts. */
export class CommitUncertainError extends TidemarkError {
  constructor(message: string, options: TidemarkErrorOptions = {}) {
    super('COMMIT_UNCERTAIN', message, options);
    this.name = 'CommitUncertainError';
  }
}

/** The instance was fenced by a newer one with the same transactional identity. */
export class FencedError extends TidemarkError {
  constructor(message: string, options: TidemarkErrorOptions = {}) {
    super('FENCED', message, {
      fix: 'Another instance took this pipeline over: a second `tidemark run` of it (stop one of them; the newer keeps the pipeline), or `tidemark watermarks reset --force`, which fences a running pipeline on purpose (start it again: it resumes from the reset watermarks).',
      ...options,
    });
    this.name = 'FencedError';
  }
}

/** A record could not be processed; the pipeline's poison policy decides what happens. */
export class PoisonRecordError extends TidemarkError {
  constructor(message: string, options: TidemarkErrorOptions = {}) {
    super('POISON_RECORD', message, options);
    this.name = 'PoisonRecordError';
  }
}

/** A configuration problem; `issues` lists every problem found, each with its path. */
export class ConfigError extends TidemarkError {
  readonly issues: readonly ConfigIssue[];
  constructor(message: string, issues: readonly ConfigIssue[], options: TidemarkErrorOptions = {}) {
    super('CONFIG_INVALID', message, options);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

export interface ConfigIssue {
  /** Path inside the configuration, e.g. `pipelines[0].sources[1].brokers`. */
  path: string;
  message: string;
  /** Where in the file, when known. */
  file?: string;
  line?: number;
  column?: number;
}

/** Asks the runtime to wait before reading again; not a failure. */
export class BackOffError extends TidemarkError {
  readonly backoffMs: number;
  constructor(backoffMs: number, message = `back off ${backoffMs} ms`) {
    super('BACK_OFF', message);
    this.name = 'BackOffError';
    this.backoffMs = backoffMs;
  }
}

/** Wraps anything thrown into a TidemarkError, keeping TidemarkErrors as they are. */
export function toTidemarkError(error: unknown, fallbackCode: ErrorCode = 'INTERNAL'): TidemarkError {
  if (TidemarkError.isInstance(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new TidemarkError(fallbackCode, message, { cause: error });
}
