import { TidemarkError } from '@tidemark/sdk';

/** Error names of the Kinesis API that mean "slow down" (the shard or the account is over its limits). */
const THROTTLING = new Set([
  'ProvisionedThroughputExceededException',
  'LimitExceededException',
  'ThrottlingException',
  'KMSThrottlingException',
]);

const AUTHENTICATION = new Set([
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'AccessDeniedException',
  'ExpiredTokenException',
  'IncompleteSignature',
  'MissingAuthenticationToken',
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'CredentialsProviderError',
]);

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
]);

/** The name of an AWS SDK error (`ResourceNotFoundException`, …), or undefined. */
export function errorName(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { name, code } = error as { name?: unknown; code?: unknown };
  if (typeof name === 'string' && name !== 'Error') return name;
  return typeof code === 'string' ? code : undefined;
}

/** True when the service asked to slow down. */
export function isThrottling(error: unknown): boolean {
  const name = errorName(error);
  return name !== undefined && THROTTLING.has(name);
}

/**
 * True when the service refused an AT_TIMESTAMP start as later than its own clock: this
 * machine's clock runs ahead of the service's. Waiting lets the service's clock catch up.
 */
export function isTimestampInFuture(error: unknown): boolean {
  return (
    errorName(error) === 'InvalidArgumentException' &&
    /timestamp cannot be in the future/i.test((error as { message?: string }).message ?? '')
  );
}

/** True when a shard iterator is older than five minutes. */
export function isExpiredIterator(error: unknown): boolean {
  return errorName(error) === 'ExpiredIteratorException';
}

/**
 * Turns an error of the AWS client into a TidemarkError with a fix. `action` says what was
 * being done ("reading shard x of stream y"). Messages never carry credentials: the SDK's own
 * messages name the access key id at most, and only its error name is kept for auth failures.
 */
export function toKinesisError(error: unknown, action: string, stream?: string): TidemarkError {
  if (TidemarkError.isInstance(error)) return error;
  const name = errorName(error) ?? 'Error';
  const message = error instanceof Error ? error.message : String(error);
  const details = { awsError: name };
  if (name === 'ResourceNotFoundException') {
    return new TidemarkError(
      'NOT_FOUND',
      `${action}: stream ${stream ?? '(unknown)'} not found (${message})`,
      {
        cause: error,
        details,
        fix: 'Create the stream, or correct `streams`; streams are per account and region, so check `region`, `endpoint` and the credentials too.',
      },
    );
  }
  if (name === 'CredentialsProviderError') {
    return new TidemarkError('AUTH_FAILED', `${action}: no AWS credentials were found (${name})`, {
      cause: error,
      details,
      fix: 'Set `credentials` in the source options, or give the process credentials through the standard AWS chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile, or a role).',
    });
  }
  if (AUTHENTICATION.has(name)) {
    return new TidemarkError('AUTH_FAILED', `${action}: the credentials were refused (${name})`, {
      cause: error,
      details,
      fix: 'Check `credentials` (or the AWS_* variables, profile and role of the standard AWS chain) and that they may call kinesis:ListShards, GetShardIterator and GetRecords.',
    });
  }
  if (name === 'ResourceInUseException') {
    return new TidemarkError('NOT_FOUND', `${action}: stream ${stream ?? ''} is not active (${message})`, {
      cause: error,
      details,
      retriable: true,
      fix: 'Wait until the stream is ACTIVE (it is being created, updated or deleted).',
    });
  }
  if (message.includes('Region is missing')) {
    return new TidemarkError('CONFIG_INVALID', `${action}: no AWS region is set`, {
      cause: error,
      fix: 'Set `region` in the source, or AWS_REGION in the environment.',
    });
  }
  if (isThrottling(error)) {
    return new TidemarkError('BACK_OFF', `${action}: throttled by Kinesis (${name})`, {
      cause: error,
      details,
      fix: 'Reduce the number of readers of the stream, or add shards.',
    });
  }
  const code = (error as { code?: unknown }).code;
  if (
    (typeof code === 'string' && NETWORK_CODES.has(code)) ||
    name === 'TimeoutError' ||
    name === 'RequestTimeout'
  ) {
    return new TidemarkError('CONNECTION_FAILED', `${action}: ${message}`, {
      cause: error,
      details,
      fix: 'Check that the Kinesis endpoint is reachable (`endpoint`, `region`, network and proxy settings).',
    });
  }
  return new TidemarkError('INTERNAL', `${action}: ${name}: ${message}`, {
    cause: error,
    details,
    fix: 'Retried automatically; if it persists, check the Kinesis service health and the stream.',
  });
}
