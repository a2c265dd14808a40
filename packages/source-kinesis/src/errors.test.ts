import { describe, expect, it } from 'vitest';
import { isExpiredIterator, isThrottling, toKinesisError } from './errors.js';

function awsError(name: string, message = `${name} happened`, code?: string): Error {
  const error = new Error(message);
  error.name = name;
  if (code) Object.assign(error, { code });
  return error;
}

describe('toKinesisError', () => {
  it('maps a missing stream to NOT_FOUND with a fix, not retriable', () => {
    const error = toKinesisError(
      awsError('ResourceNotFoundException', 'Stream s under account 1 not found.'),
      'listing',
      's',
    );
    expect(error.code).toBe('NOT_FOUND');
    expect(error.retriable).toBe(false);
    expect(error.message).toContain('stream s not found');
    expect(error.fix).toMatch(/Create the stream/);
  });

  it('maps refused credentials to AUTH_FAILED without repeating the service message', () => {
    const error = toKinesisError(
      awsError('UnrecognizedClientException', 'The security token AKIA-SECRET-ID is invalid'),
      'listing',
      's',
    );
    expect(error.code).toBe('AUTH_FAILED');
    expect(error.message).not.toContain('AKIA-SECRET-ID');
    expect(error.fix).toMatch(/credentials/);
  });

  it('says when no credentials were found at all, rather than refused', () => {
    const error = toKinesisError(
      awsError('CredentialsProviderError', 'Could not load credentials'),
      'listing',
      's',
    );
    expect(error.code).toBe('AUTH_FAILED');
    expect(error.message).toContain('no AWS credentials were found');
    expect(error.fix).toMatch(/AWS_ACCESS_KEY_ID/);
  });

  it('maps throttling to BACK_OFF, network failures to CONNECTION_FAILED, a missing region to CONFIG_INVALID', () => {
    expect(toKinesisError(awsError('LimitExceededException'), 'listing').code).toBe('BACK_OFF');
    expect(toKinesisError(awsError('Error', 'connect ECONNREFUSED', 'ECONNREFUSED'), 'listing').code).toBe(
      'CONNECTION_FAILED',
    );
    expect(toKinesisError(awsError('TimeoutError'), 'listing').retriable).toBe(true);
    expect(toKinesisError(new Error('Region is missing'), 'listing').code).toBe('CONFIG_INVALID');
    const other = toKinesisError(awsError('InternalFailure'), 'reading');
    expect(other.code).toBe('INTERNAL');
    expect(other.retriable).toBe(true);
  });

  it('recognises throttling and expired iterators by error name', () => {
    expect(isThrottling(awsError('ProvisionedThroughputExceededException'))).toBe(true);
    expect(isThrottling(awsError('ResourceNotFoundException'))).toBe(false);
    expect(isExpiredIterator(awsError('ExpiredIteratorException'))).toBe(true);
    expect(isExpiredIterator(new Error('x'))).toBe(false);
  });
});
