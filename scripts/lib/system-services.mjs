// PostgreSQL, RabbitMQ and Mosquitto come from Debian packages; `up` only starts an installed one
// that is down, with the same command the machine uses at boot, and `down` stops only those.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { findExecutable, isRunning, runCommand, stopProcess } from './processes.mjs';

function postgresVersion() {
  if (!existsSync('/etc/postgresql')) return undefined;
  const versions = readdirSync('/etc/postgresql')
    .filter((entry) => existsSync(`/etc/postgresql/${entry}/main`))
    .sort((left, right) => Number(right) - Number(left));
  return versions[0];
}

function requireSuccess(result, what) {
  if (result.code !== 0)
    throw new Error(`${what} failed (exit ${result.code}):\n${result.output.slice(-2000)}`);
}

const mosquittoConfig = '/etc/mosquitto/mosquitto.conf';

function mosquittoPid() {
  if (!existsSync(mosquittoConfig)) return undefined;
  const pidFileLine = readFileSync(mosquittoConfig, 'utf8')
    .split('\n')
    .find((line) => /^\s*pid_file\s+/.test(line));
  const pidFile = pidFileLine?.trim().split(/\s+/)[1];
  if (!pidFile || !existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/**
 * How to start and stop each machine service. `standardPort` is the only port the machine's own
 * command serves, so nothing is started for any other; `install` names the Debian package.
 */
export const systemServices = {
  postgres: {
    standardPort: 5432,
    install: 'apt-get install postgresql',
    startTimeoutMilliseconds: 30_000,
    start() {
      const pgCtlCluster = findExecutable('pg_ctlcluster');
      const version = postgresVersion();
      if (!pgCtlCluster || !version)
        throw new Error('PostgreSQL is not installed: apt-get install postgresql');
      requireSuccess(
        runCommand(pgCtlCluster, ['--skip-systemctl-redirect', version, 'main', 'start']),
        `pg_ctlcluster ${version} main start`,
      );
    },
    async stop() {
      const pgCtlCluster = findExecutable('pg_ctlcluster');
      const version = postgresVersion();
      if (!pgCtlCluster || !version) return;
      requireSuccess(
        runCommand(pgCtlCluster, ['--skip-systemctl-redirect', version, 'main', 'stop']),
        `pg_ctlcluster ${version} main stop`,
      );
    },
  },
  rabbitmq: {
    standardPort: 5672,
    install: 'apt-get install rabbitmq-server',
    startTimeoutMilliseconds: 60_000,
    start() {
      const server = findExecutable('rabbitmq-server');
      if (!server) throw new Error('RabbitMQ is not installed: apt-get install rabbitmq-server');
      requireSuccess(runCommand(server, ['-detached']), 'rabbitmq-server -detached');
    },
    async stop() {
      const control = findExecutable('rabbitmqctl');
      if (!control) return;
      requireSuccess(runCommand(control, ['stop']), 'rabbitmqctl stop');
    },
  },
  mosquitto: {
    standardPort: 1883,
    install: 'apt-get install mosquitto',
    startTimeoutMilliseconds: 15_000,
    start() {
      const broker = findExecutable('mosquitto');
      if (!broker || !existsSync(mosquittoConfig)) {
        throw new Error('Mosquitto is not installed: apt-get install mosquitto');
      }
      requireSuccess(runCommand(broker, ['-d', '-c', mosquittoConfig]), `mosquitto -d -c ${mosquittoConfig}`);
    },
    async stop() {
      const pid = mosquittoPid();
      if (pid !== undefined && isRunning(pid, 'mosquitto')) await stopProcess(pid, 'mosquitto', 15_000);
    },
  },
};
