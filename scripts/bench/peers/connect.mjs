// One Kafka Connect distributed worker with exactly-once source support, and the
// FileStreamSource connector run on it per measurement.
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { sleep } from '../../lib/processes.mjs';

/** A started worker: `run` measures one connector, `stop` ends the worker. */
export async function startConnectWorker({ java, classpath }, { brokers, directory, port, unique }) {
  mkdirSync(directory, { recursive: true });
  const name = unique('bench-connect');
  const properties = path.join(directory, 'worker.properties');
  writeFileSync(
    properties,
    [
      `bootstrap.servers=${brokers.join(',')}`,
      `group.id=${name}`,
      'key.converter=org.apache.kafka.connect.storage.StringConverter',
      'value.converter=org.apache.kafka.connect.storage.StringConverter',
      `config.storage.topic=${name}-configs`,
      `offset.storage.topic=${name}-offsets`,
      `status.storage.topic=${name}-status`,
      'config.storage.replication.factor=1',
      'offset.storage.replication.factor=1',
      'offset.storage.partitions=1',
      'status.storage.replication.factor=1',
      'status.storage.partitions=1',
      'exactly.once.source.support=enabled',
      'connector.client.config.override.policy=All',
      `listeners=http://127.0.0.1:${port}`,
      'rest.advertised.host.name=127.0.0.1',
      `rest.advertised.port=${port}`,
      '',
    ].join('\n'),
  );
  const log4j = path.join(directory, 'log4j.properties');
  writeFileSync(
    log4j,
    'log4j.rootLogger=WARN, stdout\nlog4j.appender.stdout=org.apache.log4j.ConsoleAppender\nlog4j.appender.stdout.layout=org.apache.log4j.PatternLayout\nlog4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n\n',
  );
  const logFile = path.join(directory, 'worker.log');
  const output = openSync(logFile, 'a');
  const worker = spawn(
    java,
    [
      '-Xmx768m',
      '-cp',
      classpath,
      `-Dlog4j.configuration=file:${log4j}`,
      'org.apache.kafka.connect.cli.ConnectDistributed',
      properties,
    ],
    { stdio: ['ignore', output, output] },
  );
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (worker.exitCode !== null)
      throw new Error(`the Connect worker exited (${worker.exitCode}); see ${logFile}`);
    try {
      const response = await fetch(`${base}/connectors`);
      if (response.ok) break;
    } catch {}
    if (Date.now() > deadline) {
      worker.kill('SIGKILL');
      throw new Error(`the Connect worker did not answer on ${base} within 120 s; see ${logFile}`);
    }
    await sleep(500);
  }

  return {
    /**
     * Runs FileStreamSource over `file` into `topic` with exactly.once.support=required and
     * transactions of `intervalMs`; resolves once `visible(count)` says everything is committed,
     * with the records/s from the connector's creation to then.
     */
    async run({ file, topic, intervalMs, producer, visible }) {
      const connector = unique('file-source');
      const config = {
        'connector.class': 'org.apache.kafka.connect.file.FileStreamSourceConnector',
        'tasks.max': '1',
        file,
        topic,
        'exactly.once.support': 'required',
        'transaction.boundary': 'interval',
        'transaction.boundary.interval.ms': String(intervalMs),
        ...Object.fromEntries(
          Object.entries(producer).map(([key, value]) => [`producer.override.${key}`, String(value)]),
        ),
      };
      const started = performance.now();
      const response = await fetch(`${base}/connectors/${connector}/config`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(config),
      });
      if (!response.ok)
        throw new Error(`creating connector ${connector}: HTTP ${response.status} ${await response.text()}`);
      try {
        await visible(started);
        return { seconds: (performance.now() - started) / 1000 };
      } finally {
        await fetch(`${base}/connectors/${connector}`, { method: 'DELETE' }).catch(() => undefined);
      }
    },
    async stop() {
      worker.kill('SIGTERM');
      const exited = new Promise((resolve) => worker.once('exit', resolve));
      await Promise.race([exited, sleep(20_000)]);
      if (worker.exitCode === null) worker.kill('SIGKILL');
    },
  };
}
