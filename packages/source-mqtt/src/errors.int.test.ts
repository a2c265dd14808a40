import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:tls';
import { TidemarkError } from '@tidemark/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqttSource from './index.js';
import { brokerUrl, createTestSource, uniqueName } from './test-broker.js';
import { freePort, PrivateMosquitto } from './test-mosquitto.js';

const SECRET = 's3cret-never-logged';

async function openError(raw: Record<string, unknown>): Promise<TidemarkError> {
  const source = createTestSource({
    clientId: uniqueName('tm-errors'),
    topics: ['tm/errors'],
    connectTimeoutMs: 3_000,
    ...raw,
  });
  try {
    await source.open(null);
  } catch (error) {
    expect(TidemarkError.isInstance(error)).toBe(true);
    return error as TidemarkError;
  } finally {
    await source.close();
  }
  throw new Error('open succeeded, expected an error');
}

function expectNoSecret(error: TidemarkError): void {
  expect(JSON.stringify({ message: error.message, fix: error.fix, details: error.details })).not.toContain(
    SECRET,
  );
}

describe('typed errors naming the fix', () => {
  const broker = new PrivateMosquitto({ users: { reader: 'right-password' } });
  let tlsServer: Server;
  let tlsPort = 0;
  let certificateDirectory = '';

  beforeAll(async () => {
    await broker.start();
    certificateDirectory = mkdtempSync(join(tmpdir(), 'tidemark-tls-'));
    const key = join(certificateDirectory, 'key.pem');
    const cert = join(certificateDirectory, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-subj',
        '/CN=localhost',
        '-days',
        '1',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'ignore' },
    );
    tlsServer = createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (socket) =>
      socket.destroy(),
    );
    tlsServer.on('tlsClientError', () => undefined);
    tlsPort = await freePort();
    await new Promise<void>((resolve) => tlsServer.listen(tlsPort, '127.0.0.1', resolve));
  });

  afterAll(async () => {
    await broker.dispose();
    await new Promise((resolve) => tlsServer.close(resolve));
    rmSync(certificateDirectory, { recursive: true, force: true });
  });

  it.each([4, 5] as const)(
    'bad credentials give AUTH_FAILED, not retriable, without the password (protocol %i)',
    async (protocolVersion) => {
      const error = await openError({
        url: broker.url,
        username: 'reader',
        password: SECRET,
        protocolVersion,
      });
      expect(error.code).toBe('AUTH_FAILED');
      expect(error.retriable).toBe(false);
      expect(error.fix).toMatch(/username and password/);
      expectNoSecret(error);
    },
  );

  it('credentials in the URL never reach the message', async () => {
    const error = await openError({ url: `mqtt://reader:${SECRET}@127.0.0.1:${broker.port}` });
    expect(error.code).toBe('AUTH_FAILED');
    expectNoSecret(error);
  });

  it('a TLS handshake with an untrusted certificate gives TLS_FAILED', async () => {
    const error = await openError({ url: `mqtts://127.0.0.1:${tlsPort}`, tls: { servername: 'localhost' } });
    expect(error.code).toBe('TLS_FAILED');
    expect(error.retriable).toBe(false);
    expect(error.fix).toMatch(/tls\.ca/);
  });

  it('an unreachable broker gives CONNECTION_FAILED, retriable', async () => {
    const error = await openError({ url: `mqtt://127.0.0.1:${await freePort()}` });
    expect(error.code).toBe('CONNECTION_FAILED');
    expect(error.retriable).toBe(true);
    expect(error.fix).toMatch(/broker runs/);
  });

  it('the preflight check passes against a reachable broker and names the fix when credentials are wrong', async () => {
    const parse = (raw: Record<string, unknown>) =>
      mqttSource.configSchema.parse({ clientId: uniqueName('tm-check'), topics: ['tm/check'], ...raw });
    await expect(mqttSource.check(parse({ url: brokerUrl }))).resolves.toBeUndefined();
    const error = await mqttSource
      .check(parse({ url: broker.url, username: 'reader', password: SECRET, connectTimeoutMs: 3_000 }))
      .then(
        () => undefined,
        (thrown: unknown) => thrown as TidemarkError,
      );
    expect(error?.code).toBe('AUTH_FAILED');
    expectNoSecret(error!);
  });
});
