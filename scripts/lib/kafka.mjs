// A single-node KRaft Kafka broker run from the Maven Central jars (no distribution tarball needed).
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { kafkaVersion, repositoryRoot } from './addresses.mjs';
import {
  ensureCertificates,
  ensureScramUser,
  scramFormatArguments,
  securityFiles,
  securityProperties,
} from './kafka-security.mjs';
import { findExecutable, runCommand } from './processes.mjs';

export const kafkaMarker = 'kafka.Kafka';

const requiredJars = [
  `kafka_2.13-${kafkaVersion}.jar`,
  `kafka-storage-${kafkaVersion}.jar`,
  'reload4j-1.2.25.jar',
];

/** Paths of the files `up` writes for a broker whose state lives in `directory`. */
export function kafkaFiles(directory) {
  return {
    serverProperties: path.join(directory, 'server.properties'),
    log4jProperties: path.join(directory, 'log4j.properties'),
    dataDirectory: path.join(directory, 'data'),
    logFile: path.join(directory, 'broker.log'),
    pidFile: path.join(directory, 'kafka.pid'),
  };
}

function requireJava() {
  const java = findExecutable('java');
  if (!java) throw new Error('java not found: install a JDK 17+ (apt-get install openjdk-17-jre-headless)');
  return java;
}

/**
 * Makes sure the broker's jars (or those of another pom under tools/, e.g. the bench's peers) are
 * in `libraryDirectory`, resolving them with Maven on first use. The copy goes to a temporary
 * folder renamed into place, so a half-finished download is never used.
 */
export function ensureKafkaLibraries(
  libraryDirectory,
  report,
  { pom = path.join('tools', 'kafka', 'pom.xml'), jars = requiredJars } = {},
) {
  if (existsSync(libraryDirectory)) {
    const present = new Set(readdirSync(libraryDirectory));
    if (jars.every((jar) => present.has(jar))) return;
  }
  const maven = findExecutable('mvn');
  if (!maven)
    throw new Error(`mvn not found: it fetches the Kafka ${kafkaVersion} jars once (apt-get install maven)`);
  report(`resolving Kafka ${kafkaVersion} jars with Maven into ${libraryDirectory}`);
  const temporary = `${libraryDirectory}.partial-${process.pid}`;
  rmSync(temporary, { recursive: true, force: true });
  mkdirSync(path.dirname(libraryDirectory), { recursive: true });
  const result = runCommand(
    maven,
    [
      '-q',
      '-B',
      '-f',
      path.join(repositoryRoot, pom),
      'dependency:copy-dependencies',
      `-DoutputDirectory=${temporary}`,
      '-DincludeScope=runtime',
    ],
    { timeout: 600_000 },
  );
  if (result.code !== 0) {
    rmSync(temporary, { recursive: true, force: true });
    throw new Error(
      `Maven could not resolve the Kafka jars (exit ${result.code}):\n${result.output.slice(-4000)}`,
    );
  }
  rmSync(libraryDirectory, { recursive: true, force: true });
  renameSync(temporary, libraryDirectory);
}

function serverProperties({ host, port, controllerPort, securePort, dataDirectory, directory }) {
  const advertisedHost = host.includes(':') ? `[${host}]` : host;
  const secure = `SASL_SSL://${advertisedHost}:${securePort}`;
  return `${[
    '# Written by `npm run services -- up`; rewritten on every start.',
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@${advertisedHost}:${controllerPort}`,
    `listeners=PLAINTEXT://${advertisedHost}:${port},CONTROLLER://${advertisedHost}:${controllerPort},${secure}`,
    `advertised.listeners=PLAINTEXT://${advertisedHost}:${port},${secure}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL',
    ...securityProperties(directory),
    `log.dirs=${dataDirectory}`,
    'num.partitions=1',
    'default.replication.factor=1',
    'auto.create.topics.enable=true',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=10',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'transaction.state.log.num.partitions=10',
    'group.initial.rebalance.delay.ms=0',
    '# One node: after an unclean stop the broker re-registers once its old session expires; keep that short.',
    'broker.session.timeout.ms=3000',
    'broker.heartbeat.interval.ms=1000',
    '# Tests create many small topics: small segments, a small cleaner buffer.',
    '# No time retention: tests write records with timestamps from past years (start-time and',
    '# rowtime cases), and time retention runs on record timestamps, so such a topic would be',
    '# emptied at the next retention check, mid-test. Disk is bounded per partition instead,',
    '# above the largest benchmark backlog.',
    'log.segment.bytes=8388608',
    'log.index.size.max.bytes=1048576',
    'log.retention.ms=-1',
    'log.retention.bytes=4294967296',
    'log.retention.check.interval.ms=60000',
    'log.cleaner.dedupe.buffer.size=8388608',
    'offsets.topic.segment.bytes=8388608',
    'transaction.state.log.segment.bytes=8388608',
    'metadata.log.segment.bytes=8388608',
    'metadata.max.retention.bytes=33554432',
  ].join('\n')}\n`;
}

const log4jProperties = `${[
  '# Written by `npm run services -- up`.',
  'log4j.rootLogger=WARN, stdout',
  'log4j.logger.kafka.server.KafkaRaftServer=INFO',
  'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
  'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
  'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n',
].join('\n')}\n`;

/**
 * Writes the broker's configuration and formats its KRaft storage the first time (a formatted
 * data folder has meta.properties and is reused). Returns the java command line to start it.
 */
export function prepareKafka(settings, report) {
  const java = requireJava();
  ensureKafkaLibraries(settings.libraryDirectory, report);
  const files = kafkaFiles(settings.directory);
  mkdirSync(settings.directory, { recursive: true });
  ensureCertificates(settings.directory, report);
  writeFileSync(
    files.serverProperties,
    serverProperties({ ...settings, dataDirectory: files.dataDirectory }),
    { mode: 0o600 },
  );
  writeFileSync(files.log4jProperties, log4jProperties);

  const classpath = `${settings.libraryDirectory}/*`;
  const log4jOption = `-Dlog4j.configuration=file:${files.log4jProperties}`;
  if (!existsSync(path.join(files.dataDirectory, 'meta.properties'))) {
    const uuid = runCommand(java, ['-cp', classpath, log4jOption, 'kafka.tools.StorageTool', 'random-uuid']);
    const clusterId = uuid.output.split('\n').at(-1)?.trim() ?? '';
    if (uuid.code !== 0 || !/^[A-Za-z0-9_-]{22}$/.test(clusterId)) {
      throw new Error(`kafka.tools.StorageTool random-uuid failed:\n${uuid.output}`);
    }
    const format = runCommand(java, [
      '-cp',
      classpath,
      log4jOption,
      'kafka.tools.StorageTool',
      'format',
      '-t',
      clusterId,
      '-c',
      files.serverProperties,
      ...scramFormatArguments(),
    ]);
    if (format.code !== 0) throw new Error(`formatting the KRaft storage failed:\n${format.output}`);
    writeFileSync(securityFiles(settings.directory).scramMarker, 'SCRAM-SHA-512, at format\n');
    report(`formatted KRaft storage in ${files.dataDirectory} (cluster ${clusterId})`);
  }
  return {
    command: java,
    args: ['-Xmx768m', '-Xms256m', '-cp', classpath, log4jOption, kafkaMarker, files.serverProperties],
    files,
    /** Once the broker answers: the SCRAM user of a data folder formatted without it. */
    afterStart: (afterReport) =>
      ensureScramUser(
        {
          java,
          classpath,
          log4jOption,
          bootstrap: `${settings.host.includes(':') ? `[${settings.host}]` : settings.host}:${settings.port}`,
          directory: settings.directory,
        },
        afterReport,
      ),
  };
}
