// The local broker's second listener: TLS with SASL/SCRAM-SHA-512, for the security tests.
// Certificates come from openssl and the SCRAM user from the KRaft format (or, for a data folder
// formatted before, from kafka-configs once the broker answers). Everything is made once and reused.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { findExecutable, runCommand } from './processes.mjs';

/** The SCRAM user the secure listener knows. A local test credential, like RabbitMQ's guest/guest. */
export const secureUser = { username: 'tidemark', password: 'tidemark-test-secret' };
export const scramMechanism = 'SCRAM-SHA-512';

/** Files of the secure listener under the broker's state folder. */
export function securityFiles(directory) {
  const tls = path.join(directory, 'tls');
  return {
    tlsDirectory: tls,
    caCertificate: path.join(tls, 'ca.pem'),
    keystore: path.join(tls, 'broker.p12'),
    storePassword: path.join(tls, 'store-password'),
    /** Written once the SCRAM user exists in the cluster metadata of this data folder. */
    scramMarker: path.join(directory, 'data', 'tidemark-scram-user'),
  };
}

function openssl(args, report) {
  const binary = findExecutable('openssl');
  if (!binary) throw new Error('openssl not found: it makes the TLS certificates (apt-get install openssl)');
  const result = runCommand(binary, args);
  if (result.code !== 0) {
    report?.(`openssl ${args[0]} failed`);
    throw new Error(`openssl ${args.join(' ')} failed:\n${result.output}`);
  }
}

/**
 * Makes a certificate authority and a broker certificate for 127.0.0.1 / localhost / ::1 signed by
 * it, in a PKCS12 keystore. Idempotent: an existing keystore is reused; a half-made folder is not.
 */
export function ensureCertificates(directory, report) {
  const files = securityFiles(directory);
  if (existsSync(files.keystore) && existsSync(files.caCertificate) && existsSync(files.storePassword))
    return files;
  const temporary = `${files.tlsDirectory}.partial-${process.pid}`;
  rmSync(temporary, { recursive: true, force: true });
  mkdirSync(temporary, { recursive: true });
  const at = (name) => path.join(temporary, name);
  const password = randomBytes(18).toString('base64url');
  writeFileSync(at('store-password'), password, { mode: 0o600 });
  writeFileSync(
    at('broker.ext'),
    'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nextendedKeyUsage=serverAuth\n',
  );
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '3650',
      '-subj',
      '/CN=Tidemark local test CA',
      '-keyout',
      at('ca.key'),
      '-out',
      at('ca.pem'),
    ],
    report,
  );
  openssl(
    [
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      '/CN=localhost',
      '-keyout',
      at('broker.key'),
      '-out',
      at('broker.csr'),
    ],
    report,
  );
  openssl(
    [
      'x509',
      '-req',
      '-in',
      at('broker.csr'),
      '-CA',
      at('ca.pem'),
      '-CAkey',
      at('ca.key'),
      '-CAcreateserial',
      '-days',
      '3650',
      '-extfile',
      at('broker.ext'),
      '-out',
      at('broker.pem'),
    ],
    report,
  );
  openssl(
    [
      'pkcs12',
      '-export',
      '-name',
      'broker',
      '-in',
      at('broker.pem'),
      '-inkey',
      at('broker.key'),
      '-certfile',
      at('ca.pem'),
      '-out',
      at('broker.p12'),
      '-passout',
      `file:${at('store-password')}`,
    ],
    report,
  );
  rmSync(files.tlsDirectory, { recursive: true, force: true });
  renameSync(temporary, files.tlsDirectory);
  report(`made a test CA and broker certificate in ${files.tlsDirectory}`);
  return files;
}

/** The server.properties lines of the secure listener (the listener itself is added by the caller). */
export function securityProperties(directory) {
  const files = securityFiles(directory);
  const password = readFileSync(files.storePassword, 'utf8').trim();
  return [
    '# Second listener SASL_SSL: TLS (certificate of the local test CA in tls/) and SCRAM-SHA-512.',
    `sasl.enabled.mechanisms=${scramMechanism}`,
    `listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;`,
    'ssl.keystore.type=PKCS12',
    `ssl.keystore.location=${files.keystore}`,
    `ssl.keystore.password=${password}`,
    `ssl.key.password=${password}`,
    'ssl.client.auth=none',
  ];
}

/** The `kafka-storage format` argument that creates the SCRAM user with the cluster metadata. */
export function scramFormatArguments() {
  return ['--add-scram', `${scramMechanism}=[name=${secureUser.username},password=${secureUser.password}]`];
}

/**
 * For a data folder formatted without the SCRAM user (before the secure listener existed): adds it
 * through the plaintext listener of the running broker. Idempotent (a marker in the data folder).
 */
export function ensureScramUser({ java, classpath, log4jOption, bootstrap, directory }, report) {
  const files = securityFiles(directory);
  if (existsSync(files.scramMarker)) return;
  const result = runCommand(java, [
    '-cp',
    classpath,
    log4jOption,
    'kafka.admin.ConfigCommand',
    '--bootstrap-server',
    bootstrap,
    '--alter',
    '--add-config',
    `${scramMechanism}=[iterations=8192,password=${secureUser.password}]`,
    '--entity-type',
    'users',
    '--entity-name',
    secureUser.username,
  ]);
  if (result.code !== 0)
    throw new Error(`adding the SCRAM user failed:\n${result.output.replaceAll(secureUser.password, '***')}`);
  writeFileSync(files.scramMarker, `${scramMechanism} ${secureUser.username}\n`);
  report(`added SCRAM user '${secureUser.username}'`);
}
