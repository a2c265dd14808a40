// Bench case tasks-kafka: Kafka → Kafka, exactly-once, as 4 tasks shared by 2 `tidemark run`
// instances (task group) against 1 task on 1 instance, over the same pre-filled 8-partition
// input topic, interleaved, median of `repeat` runs each. Throughput is measured in steady state
// at a read_committed reader of the sink topic: records from the moment every instance owns its
// tasks (the first record for one instance) to the last one, over that time.
//
//   npm run bench -- --scenario tasks-kafka [--records 100000] [--repeat 3]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { Instance } from '../chaos/scenarios/scale-common.mjs';

const brokers = (process.env.TIDEMARK_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const kafka = new Kafka({ clientId: 'tidemark-bench', brokers, logLevel: logLevel.NOTHING });
const unique = (prefix) => `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}`;
const PARTITIONS = 8;
const SIZE = 200;

async function createTopic(topic, numPartitions) {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions }], waitForLeaders: true });
  await admin.disconnect();
}

async function fill(topic, records) {
  const producer = kafka.producer({ idempotent: true });
  await producer.connect();
  const pad = 'x'.repeat(SIZE - 30);
  for (let start = 0; start < records; start += 2_000) {
    const messages = [];
    for (let index = start; index < Math.min(records, start + 2_000); index += 1)
      messages.push({ partition: index % PARTITIONS, value: `{"id":${index},"pad":"${pad}"}` });
    await producer.send({ topic, messages });
  }
  await producer.disconnect();
}

function writeYaml({ pipeline, input, output, tasks }) {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tidemark-bench-tasks-')), 'pipeline.yaml');
  const list = JSON.stringify(brokers);
  fs.writeFileSync(
    file,
    [
      'pipelines:',
      `  - name: ${pipeline}`,
      `    tasks: ${tasks}`,
      `    group: { enabled: ${tasks > 1} }`,
      `    sources: [{ name: input, type: kafka, brokers: ${list}, topics: [${input}], start: earliest }]`,
      `    sink: { type: kafka, brokers: ${list}, topic: ${output}, provenanceHeaders: none }`,
      '    commit: { interval: 1s, maxRecords: 20000 }',
      '',
    ].join('\n'),
  );
  return file;
}

/**
 * Counts committed records of `topic` until `records`; returns records/s from the moment
 * `settled()` first holds with a record seen (the group assigned every task) to the last record.
 */
async function measure(topic, records, settled, timeoutMs) {
  const consumer = kafka.consumer({ groupId: unique('tidemark-bench-count'), maxWaitTimeInMs: 100 });
  let seen = 0;
  let start;
  let last;
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      seen += batch.messages.length;
      last = Date.now();
      if (start === undefined && settled()) start = { at: last, seen };
    },
  });
  const deadline = Date.now() + timeoutMs;
  while (seen < records && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  await consumer.disconnect();
  if (seen < records) throw new Error(`only ${seen}/${records} records committed within ${timeoutMs} ms`);
  if (start === undefined || last === start.at)
    throw new Error('the group settled only after the last record');
  return ((seen - start.seen) * 1000) / (last - start.at);
}

async function runOnce(input, records, tasks, instances) {
  const output = unique('bench-tasks-out');
  await createTopic(output, 1);
  const file = writeYaml({ pipeline: unique('bench-tasks'), input, output, tasks });
  const running = Array.from({ length: instances }, (_, index) => new Instance(file, `i${index}`, () => {}));
  try {
    // With a task group: measure once every instance owns its share (the first rebalance moved
    // tasks), so the join of the second instance is not counted against the split pipeline.
    const settled = () => instances === 1 || running.every((instance) => instance.tasks.length > 0);
    return await measure(output, records, settled, 300_000);
  } finally {
    await Promise.all(running.map((instance) => instance.stop()));
  }
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

export async function tasksKafkaBench({ records: recordsOption, repeat: repeatOption }) {
  const records = Number(recordsOption ?? 200_000);
  const repeat = Math.max(3, Number(repeatOption ?? 3));
  const input = unique('bench-tasks-in');
  await createTopic(input, PARTITIONS);
  await fill(input, records);
  const split = [];
  const single = [];
  for (let round = 0; round < repeat; round += 1) {
    single.push(await runOnce(input, records, 1, 1));
    split.push(await runOnce(input, records, 4, 2));
    console.log(
      `round ${round + 1}/${repeat}: 4 tasks on 2 instances ${Math.round(split.at(-1))}/s, 1 task on 1 instance ${Math.round(single.at(-1))}/s`,
    );
  }
  const x = median(split);
  const y = median(single);
  console.log(
    `bench scenario=tasks-kafka records_per_s=${Math.round(x)} baseline=1-task-1-instance baseline_per_s=${Math.round(y)} ratio=${(x / y).toFixed(2)}`,
  );
  return 0;
}
