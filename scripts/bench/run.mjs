#!/usr/bin/env node
// Throughput benchmarks. The default case, file-kafka (scripts/bench/file-kafka.mjs): Tidemark's
// exactly-once file → Kafka pipeline on each Kafka client library against the raw kafkajs and
// @platformatic/kafka idempotent producers writing the same records to the same broker, measured
// in the same run, interleaved, median of --repeat rounds.
//
//   npm run bench [-- --scenario file-kafka] [--records N] [--repeat 3] [--case 100:1000]
//                 [--provenance-headers none,compact,json,columns] [--clients platformatic,kafkajs]
//                 [--sizes 100,1024] [--intervals 100,1000] [--send-batch 1000] [--json out.json]
//
// Last lines per case:
//   bench scenario=<name> records_per_s=<x> baseline=<peer> baseline_per_s=<y> ratio=<x/y>
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'file-kafka' },
    // Tidemark against Kafka Connect exactly-once and the producer perf tool (scripts/bench/peers/).
    peers: { type: 'boolean', default: false },
    records: { type: 'string' },
    repeat: { type: 'string', default: '3' },
    clients: { type: 'string', default: 'platformatic,kafkajs' },
    sizes: { type: 'string', default: '100,1024' },
    intervals: { type: 'string', default: '100,1000' },
    json: { type: 'string' },
    'send-batch': { type: 'string' },
    case: { type: 'string' },
    // --peers --scenario backlog: the backlog size in MiB and the sources (file, kafka).
    'backlog-mb': { type: 'string' },
    'backlog-sources': { type: 'string' },
    // Comma-separated sink provenance header modes to measure: none (the same bytes on the wire
    // as the baseline: the framework's own cost), compact (the default), json, columns.
    'provenance-headers': { type: 'string', default: 'none,compact' },
  },
});
// Every other case lives in its own file; each entry runs it with the parsed options.
const CASES = {
  'kinesis-kafka': async () =>
    (await import('./kinesis-kafka.mjs')).kinesisKafkaBench({
      records: values.records && Number(values.records),
      repeat: Number(values.repeat),
    }),
  'amqp-kafka': async () => (await import('./amqp-kafka.mjs')).run(values),
  'postgres-kafka': async () => (await import('./postgres-kafka.mjs')).default(values),
  'file-postgres': async () =>
    (await import('./file-postgres.mjs')).filePostgres({ records: values.records, repeat: values.repeat }),
  'mqtt-kafka': async () => (await import('./mqtt-kafka.mjs')).main(values),
  'orders-window': async () => (await import('./orders-window.mjs')).ordersWindowBench(values),
  'tasks-kafka': async () => (await import('./tasks-kafka.mjs')).tasksKafkaBench(values),
  'kafka-kafka': async () => (await import('./kafka-kafka.mjs')).kafkaKafkaBench(values),
};
if (values.peers) process.exit(await (await import('./peers/index.mjs')).peersBench(values));
if (CASES[values.scenario]) {
  const code = await CASES[values.scenario]();
  process.exit(typeof code === 'number' ? code : 0);
}
if (values.scenario !== 'file-kafka') {
  console.error(`unknown scenario '${values.scenario}'; known: file-kafka, ${Object.keys(CASES).join(', ')}`);
  process.exit(2);
}
process.exit(await (await import('./file-kafka.mjs')).fileKafkaBench(values));
