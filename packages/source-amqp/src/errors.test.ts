import { describe, expect, it } from 'vitest';
import { channelError, connectError } from './errors.js';

const clientError = (message: string, code?: string | number) => Object.assign(new Error(message), { code });

describe('error mapping', () => {
  it('maps connection failures to typed errors with a fix, never echoing credentials', () => {
    const refused = connectError(
      clientError(
        'Handshake terminated by server: 403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - Login was refused"',
      ),
      'broker:5672/',
      false,
    );
    expect(refused).toMatchObject({ code: 'AUTH_FAILED', retriable: false });
    expect(
      connectError(clientError('self-signed', 'DEPTH_ZERO_SELF_SIGNED_CERT'), 'b:5671/', true),
    ).toMatchObject({
      code: 'TLS_FAILED',
      retriable: false,
    });
    expect(connectError(clientError('read ECONNRESET', 'ECONNRESET'), 'b:5671/', true)).toMatchObject({
      code: 'TLS_FAILED',
      retriable: true,
    });
    expect(connectError(clientError('read ECONNRESET', 'ECONNRESET'), 'b:5672/', false)).toMatchObject({
      code: 'CONNECTION_FAILED',
      retriable: true,
    });
    expect(connectError(clientError('connect ECONNREFUSED', 'ECONNREFUSED'), 'b:5672/', false).message).toBe(
      'amqp: cannot connect to b:5672/: ECONNREFUSED',
    );
  });

  it('maps channel closes: 404 NOT_FOUND, 403 AUTH_FAILED, 406 on consume CONFIG_INVALID, else retriable', () => {
    expect(channelError(clientError('NOT_FOUND - no queue', 404), 'q', 'check')).toMatchObject({
      code: 'NOT_FOUND',
      retriable: false,
    });
    expect(channelError(clientError('ACCESS_REFUSED', 403), 'q', 'consume').code).toBe('AUTH_FAILED');
    expect(channelError(clientError('PRECONDITION_FAILED', 406), 'q', 'consume').code).toBe('CONFIG_INVALID');
    expect(
      channelError(clientError('PRECONDITION_FAILED - unknown delivery tag', 406), 'q', 'run'),
    ).toMatchObject({
      code: 'CONNECTION_FAILED',
      retriable: true,
    });
  });
});
