#!/usr/bin/env node
// The local service stack the integration tests need: `npm run services -- up|down|status|check`.
// Plain Node ESM (runs on Node 20 and 24). See docs/services.md.
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isLoopbackHost, kafkaVersion, readSettings, withoutPassword } from './lib/addresses.mjs';
import { kafkaFiles, kafkaMarker, prepareKafka } from './lib/kafka.mjs';
import { kinesisCommand, kinesisFiles, kinesisMarker } from './lib/kinesis.mjs';
import { probeKafka, probeKinesis, probeMosquitto, probePostgres, probeRabbitmq } from './lib/probes.mjs';
import {
  acceptsConnections,
  isRunning,
  logTail,
  ownedProcess,
  startDetached,
  stopProcess,
  waitUntilAnswering,
  withLock,
} from './lib/processes.mjs';
import { systemServices } from './lib/system-services.mjs';

// kafkajs 2.2.4 sets negative timers on Node 24 and the AWS SDK announces its next Node floor;
// neither says anything about the services, so only those two warnings are dropped.
const ignoredWarnings = new Set(['TimeoutNegativeWarning', 'NodeVersionSupportWarning']);
process.removeAllListeners('warning');
process.on('warning', (warning) => {
  const name = ignoredWarnings.has(warning.name) ? warning.name : warning.message.split(':')[0];
  if (!ignoredWarnings.has(name)) console.error(`${warning.name}: ${warning.message}`);
});

const usage = `Usage: npm run services -- <command> [options]

Commands:
  up       start whatever is down (Kafka ${kafkaVersion}, the Kinesis emulator; PostgreSQL, RabbitMQ and
           Mosquitto with the machine's own commands) and wait until each answers
  down     stop what 'up' started (pid files and markers in the state folder); leave the rest alone
  status   one line per service: name, address, up/down, who started it
  check    like status, exit code 1 when any service is down
  Each command takes optional service names to act on only those, e.g. 'up kafka'.

Options:
  --json           (status, check) print JSON instead of a table
  --record FILE    (up) append the name of every service this run started to FILE
  --from FILE      (down) stop only the services named in FILE (as written by --record)

Environment: TIDEMARK_KAFKA_BROKERS, TIDEMARK_KAFKA_CONTROLLER_PORT, TIDEMARK_KAFKA_SECURE_PORT, TIDEMARK_KINESIS_ENDPOINT,
TIDEMARK_POSTGRES_URL, TIDEMARK_AMQP_URL, TIDEMARK_MQTT_URL, TIDEMARK_SERVICES_DIR, XDG_CACHE_HOME.`;

/** A process this script launches itself and tracks with a pid file (Kafka, the Kinesis emulator). */
function ownedProcessService({
  name,
  address,
  host,
  port,
  probe,
  files,
  marker,
  timeoutMilliseconds,
  prepare,
}) {
  const owner = () => {
    const pid = ownedProcess(files.pidFile, marker);
    return pid === undefined ? undefined : `pid ${pid}`;
  };
  return {
    name,
    address,
    local: isLoopbackHost(host),
    probe,
    owner,
    start(report) {
      return withLock(`${files.pidFile}.lock`, () => this.startLocked(report));
    },
    async startLocked(report) {
      const now = await probe();
      if (now.ok) return { started: false, message: 'already running (started meanwhile by another run)' };
      const earlier = ownedProcess(files.pidFile, marker);
      if (earlier !== undefined) {
        report(`pid ${earlier} from an earlier 'up' is running but not answering yet; waiting for it`);
        const result = await waitUntilAnswering(probe, {
          timeoutMilliseconds,
          stillStarting: () => isRunning(earlier, marker),
        });
        if (result.ok) return { started: false, message: `up (started earlier, pid ${earlier})` };
        throw new Error(
          `pid ${earlier} does not answer: ${result.detail}; run 'npm run services -- down' and retry.\n` +
            `  last lines of ${files.logFile}:\n${logTail(files.logFile)}`,
        );
      }
      if (await acceptsConnections(host, port)) {
        throw new Error(
          `${host}:${port} accepts connections but does not answer as ${name}; free the port or change the address`,
        );
      }
      const launch = await prepare(report);
      const startedAt = Date.now();
      const pid = startDetached({ ...launch, logFile: files.logFile, pidFile: files.pidFile });
      const result = await waitUntilAnswering(probe, {
        timeoutMilliseconds,
        stillStarting: () => isRunning(pid, marker),
      });
      if (!result.ok) {
        await stopProcess(pid, marker, 10_000).catch(() => {});
        rmSync(files.pidFile, { force: true });
        throw new Error(
          `${name} did not come up: ${result.detail}\n  last lines of ${files.logFile}:\n${logTail(files.logFile)}`,
        );
      }
      await launch.afterStart?.(report);
      const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
      return { started: true, message: `started (pid ${pid}) in ${seconds} s; log ${files.logFile}` };
    },
    async stop() {
      const pid = ownedProcess(files.pidFile, marker);
      if (pid === undefined) return false;
      await stopProcess(pid, marker);
      rmSync(files.pidFile, { force: true });
      return true;
    },
  };
}

/** A machine service (Debian package) started with the machine's own command; a marker file records that we did. */
function systemService({ name, address, host, port, probe, stateDirectory }) {
  const machine = systemServices[name];
  const markerFile = path.join(stateDirectory, `${name}.started-by-up`);
  return {
    name,
    address,
    local: isLoopbackHost(host),
    probe,
    owner: () => (existsSync(markerFile) ? 'marker file' : undefined),
    async start(report) {
      if (port !== machine.standardPort) {
        throw new Error(
          `the machine's ${name} serves port ${machine.standardPort}; nothing here starts one on port ${port}`,
        );
      }
      if (await acceptsConnections(host, port)) {
        // A server that is still booting (RabbitMQ takes a minute after a machine start) accepts
        // TCP before it speaks its protocol: give it its start time before calling the URL wrong.
        report(`accepts connections but does not answer yet; waiting for the ${name} handshake`);
        const result = await waitUntilAnswering(probe, {
          timeoutMilliseconds: machine.startTimeoutMilliseconds,
        });
        if (result.ok) return { started: false, message: 'already running (was still starting)' };
        throw new Error(
          `${host}:${port} accepts connections but the ${name} handshake fails (${result.detail}); check the URL`,
        );
      }
      report(`not answering; starting the machine's ${name}`);
      const startedAt = Date.now();
      machine.start();
      const result = await waitUntilAnswering(probe, {
        timeoutMilliseconds: machine.startTimeoutMilliseconds,
      });
      if (!result.ok)
        throw new Error(`${name} was started but does not answer at ${address}: ${result.detail}`);
      mkdirSync(stateDirectory, { recursive: true });
      writeFileSync(markerFile, `${new Date().toISOString()}\n`);
      const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
      return { started: true, message: `started in ${seconds} s` };
    },
    async stop() {
      if (!existsSync(markerFile)) return false;
      await machine.stop();
      rmSync(markerFile, { force: true });
      return true;
    },
  };
}

function describeServices(settings) {
  const { kafka, kinesis, postgres, rabbitmq, mosquitto, stateDirectory } = settings;
  return [
    ownedProcessService({
      name: 'kafka',
      address: kafka.brokers.join(','),
      host: kafka.host,
      port: kafka.port,
      probe: () => probeKafka(kafka.brokers),
      files: kafkaFiles(kafka.directory),
      marker: kafkaMarker,
      timeoutMilliseconds: 60_000,
      prepare: async (report) => {
        if (await acceptsConnections(kafka.host, kafka.controllerPort)) {
          throw new Error(
            `the controller port ${kafka.host}:${kafka.controllerPort} is taken; set TIDEMARK_KAFKA_CONTROLLER_PORT to a free port`,
          );
        }
        if (await acceptsConnections(kafka.host, kafka.securePort)) {
          throw new Error(
            `the secure listener port ${kafka.host}:${kafka.securePort} is taken; set TIDEMARK_KAFKA_SECURE_PORT to a free port`,
          );
        }
        const launch = prepareKafka(kafka, report);
        return {
          command: launch.command,
          args: launch.args,
          cwd: kafka.directory,
          afterStart: launch.afterStart,
        };
      },
    }),
    ownedProcessService({
      name: 'kinesis',
      address: kinesis.endpoint,
      host: kinesis.host,
      port: kinesis.port,
      probe: () => probeKinesis(kinesis.endpoint),
      files: kinesisFiles(kinesis.directory),
      marker: kinesisMarker,
      timeoutMilliseconds: 60_000,
      prepare: () => {
        const launch = kinesisCommand(kinesis);
        mkdirSync(kinesis.directory, { recursive: true });
        return launch;
      },
    }),
    systemService({
      name: 'postgres',
      address: withoutPassword(postgres.url),
      host: postgres.host,
      port: postgres.port,
      probe: () => probePostgres(postgres.url),
      stateDirectory,
    }),
    systemService({
      name: 'rabbitmq',
      address: withoutPassword(rabbitmq.url),
      host: rabbitmq.host,
      port: rabbitmq.port,
      probe: () => probeRabbitmq(rabbitmq.url),
      stateDirectory,
    }),
    systemService({
      name: 'mosquitto',
      address: withoutPassword(mosquitto.url),
      host: mosquitto.host,
      port: mosquitto.port,
      probe: () => probeMosquitto(mosquitto.url),
      stateDirectory,
    }),
  ];
}

const line = (name, address, text) => `${name.padEnd(10)} ${address.padEnd(42)} ${text}`;

async function status(services, { json, failWhenDown }) {
  const rows = await Promise.all(
    services.map(async (service) => {
      const result = await service.probe();
      const owner = service.owner();
      return {
        name: service.name,
        address: service.address,
        up: result.ok,
        startedByUp: owner ?? null,
        detail: result.detail,
      };
    }),
  );
  if (json) {
    console.log(JSON.stringify(rows, null, 2));
  } else {
    for (const row of rows) {
      const who = row.startedByUp ? `started by 'up' (${row.startedByUp})` : 'external';
      console.log(line(row.name, row.address, `${row.up ? 'up  ' : 'DOWN'}  ${who}  ${row.detail}`));
    }
  }
  const down = rows.filter((row) => !row.up);
  if (failWhenDown && down.length > 0) {
    console.error(`down: ${down.map((row) => `${row.name} (${row.address})`).join(', ')}`);
    return 1;
  }
  return 0;
}

async function up(services, { record }) {
  let failures = 0;
  await Promise.all(
    services.map(async (service) => {
      const report = (text) => console.log(line(service.name, service.address, text));
      const before = await service.probe();
      if (before.ok) {
        const owner = service.owner();
        report(
          owner ? `already running (started by 'up', ${owner})` : 'already running (external; left alone)',
        );
        return;
      }
      if (!service.local) {
        failures += 1;
        console.error(
          line(
            service.name,
            service.address,
            `DOWN: ${before.detail}; not on this machine, so nothing is started`,
          ),
        );
        return;
      }
      try {
        const result = await service.start(report);
        if (result.started && record) appendFileSync(record, `${service.name}\n`);
        report(result.message);
      } catch (error) {
        failures += 1;
        const message = error instanceof Error ? error.message : String(error);
        console.error(line(service.name, service.address, `FAILED: ${message}`));
      }
    }),
  );
  if (failures > 0) console.error(`${failures} service(s) could not be brought up`);
  return failures > 0 ? 1 : 0;
}

async function down(services, { from }) {
  let selected = services;
  if (from !== undefined) {
    const names = existsSync(from) ? readFileSync(from, 'utf8').split('\n').filter(Boolean) : [];
    selected = services.filter((service) => names.includes(service.name));
    if (selected.length === 0) {
      console.log('nothing to stop: this run started no service');
      return 0;
    }
  }
  let failures = 0;
  for (const service of selected) {
    try {
      const stopped = await service.stop();
      console.log(
        line(service.name, service.address, stopped ? 'stopped' : "not started by 'up'; left alone"),
      );
    } catch (error) {
      failures += 1;
      const message = error instanceof Error ? error.message : String(error);
      console.error(line(service.name, service.address, `FAILED to stop: ${message}`));
    }
  }
  return failures > 0 ? 1 : 0;
}

function optionValue(args, name) {
  const index = args.indexOf(name);
  if (index === -1) return undefined;
  const value = args[index + 1];
  if (value === undefined || value.startsWith('--')) throw new Error(`${name} needs a file path`);
  return path.resolve(value);
}

async function main() {
  const [command, ...args] = process.argv.slice(2);
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    console.log(usage);
    return command === undefined ? 1 : 0;
  }
  const settings = readSettings();
  const known = describeServices(settings);
  // Optional service names after the command narrow it: `up kafka`, `status kafka kinesis`.
  const names = args.filter((arg, index) => !arg.startsWith('--') && !args[index - 1]?.startsWith('--'));
  const unknown = names.filter((name) => !known.some((service) => service.name === name));
  if (unknown.length > 0) {
    console.error(
      `unknown service ${unknown.join(', ')}; known: ${known.map((service) => service.name).join(', ')}`,
    );
    return 1;
  }
  const services = names.length === 0 ? known : known.filter((service) => names.includes(service.name));
  switch (command) {
    case 'up':
      return up(services, { record: optionValue(args, '--record') });
    case 'down':
      return down(services, { from: optionValue(args, '--from') });
    case 'status':
      return status(services, { json: args.includes('--json'), failWhenDown: false });
    case 'check':
      return status(services, { json: args.includes('--json'), failWhenDown: true });
    default:
      console.error(`unknown command "${command}"\n\n${usage}`);
      return 1;
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
