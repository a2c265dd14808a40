// The Kinesis emulator: the npm package kinesis-local (kinesis-mock compiled to JavaScript).
import { createRequire } from 'node:module';
import path from 'node:path';
import { repositoryRoot } from './addresses.mjs';

export const kinesisMarker = 'kinesis-local';

export function kinesisFiles(directory) {
  return {
    logFile: path.join(directory, 'kinesis.log'),
    pidFile: path.join(directory, 'kinesis.pid'),
  };
}

/**
 * The command that serves plain HTTP on `port` (the emulator always opens a TLS port too; it gets
 * `port + 1`). The emulator listens on every interface; it has no setting to bind one.
 */
export function kinesisCommand({ protocol, port, directory }) {
  if (protocol !== 'http:') {
    throw new Error(
      'only a plain http:// Kinesis endpoint can be started here; point TIDEMARK_KINESIS_ENDPOINT at http://',
    );
  }
  const require = createRequire(path.join(repositoryRoot, 'package.json'));
  let packageDirectory;
  try {
    packageDirectory = path.dirname(require.resolve('kinesis-local/package.json'));
  } catch {
    throw new Error('kinesis-local is not installed: run npm install (it is a root devDependency)');
  }
  return {
    command: process.execPath,
    args: [path.join(packageDirectory, 'main.js')],
    cwd: directory,
    environment: {
      KINESIS_MOCK_CERT_PATH: path.join(packageDirectory, 'server.json'),
      KINESIS_MOCK_PLAIN_PORT: String(port),
      KINESIS_MOCK_TLS_PORT: String(port + 1),
      LOG_LEVEL: 'WARN',
      SHOULD_PERSIST_DATA: 'false',
    },
    files: kinesisFiles(directory),
  };
}
