// Bench case kinesis-kafka: Tidemark's exactly-once Kinesis → Kafka pipeline against a raw
// @aws-sdk/client-kinesis GetRecords reader of the same records (every shard concurrently,
// 10,000 records per call), in the same run, interleaved, median of --repeat (≥ 3) runs each.
//
//   npm run bench -- --scenario kinesis-kafka [--records 20000] [--repeat 3]
//
// Last line: bench scenario=kinesis-kafka records_per_s=<x> baseline=raw-getrecords baseline_per_s=<y> ratio=<x/y>
import {
  CreateStreamCommand,
  DeleteStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListShardsCommand,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Pipeline } from '@tidemark/core';
import { Kafka, logLevel } from 'kafkajs';

const endpoint = process.env.TIDEMARK_KINESIS_ENDPOINT || 'http://127.0.0.1:4567';
const brokers = (process.env.TIDEMARK_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const credentials = () => ({ accessKeyId: 'tidemark', secretAccessKey: 'tidemark' });
const SHARDS = 2;
const RECORD_BYTES = 100;
const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };
const unique = (prefix) => `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}`;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

function kinesisClient() {
  return new KinesisClient({
    endpoint,
    region: 'us-east-1',
    credentials: credentials(),
    requestHandler: new NodeHttpHandler({ connectionTimeout: 5_000, requestTimeout: 60_000 }),
  });
}

async function fillStream(client, stream, count) {
  await client.send(new CreateStreamCommand({ StreamName: stream, ShardCount: SHARDS }));
  for (;;) {
    const summary = await client.send(new DescribeStreamSummaryCommand({ StreamName: stream }));
    if (summary.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') break;
    await sleep(100);
  }
  for (let offset = 0; offset < count; offset += 500) {
    let entries = [];
    for (let index = offset; index < Math.min(count, offset + 500); index += 1) {
      const prefix = `{"id":${index},"pad":"`;
      const text = `${prefix}${'x'.repeat(RECORD_BYTES - prefix.length - 2)}"}`;
      entries.push({ PartitionKey: `k${index % 64}`, Data: Buffer.from(text) });
    }
    while (entries.length > 0) {
      const answer = await client.send(new PutRecordsCommand({ StreamName: stream, Records: entries }));
      entries = entries.filter((_, index) => answer.Records?.[index]?.ErrorCode !== undefined);
    }
  }
}

/** The baseline: GetRecords on every shard concurrently from TRIM_HORIZON until `count` records came. */
async function rawReader(stream, count) {
  const client = kinesisClient();
  const started = performance.now();
  const { Shards = [] } = await client.send(new ListShardsCommand({ StreamName: stream }));
  let received = 0;
  await Promise.all(
    Shards.map(async (shard) => {
      let { ShardIterator: iterator } = await client.send(
        new GetShardIteratorCommand({
          StreamName: stream,
          ShardId: shard.ShardId,
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      );
      while (iterator && received < count) {
        const answer = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
        received += answer.Records?.length ?? 0;
        iterator = answer.NextShardIterator;
        if ((answer.Records?.length ?? 0) === 0) await sleep(50);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  client.destroy();
  if (received !== count) throw new Error(`raw reader got ${received} of ${count} records`);
  return count / seconds;
}

/** Tidemark: the Kinesis source → transactional Kafka sink, until `count` records are committed. */
async function tidemark(stream, count) {
  const [{ default: kinesisSource }, { default: kafkaSink }] = await Promise.all([
    import('@tidemark/source-kinesis'),
    import('@tidemark/sink-kafka'),
  ]);
  const topic = unique('bench-kinesis-out');
  const admin = new Kafka({ clientId: 'tidemark-bench', brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({
    topics: [{ topic, numPartitions: 1, replicationFactor: 1 }],
    waitForLeaders: true,
  });
  await admin.disconnect();
  const context = (name) => ({ name, logger: silent, signal: new AbortController().signal });
  const source = kinesisSource.create(
    kinesisSource.configSchema.parse({
      streams: [stream],
      endpoint,
      region: 'us-east-1',
      credentials: credentials(),
      pollIntervalMs: 50,
    }),
    context('bench-kinesis'),
  );
  const sink = kafkaSink.create(
    kafkaSink.configSchema.parse({ brokers, topic, clientId: 'tidemark-bench', provenanceHeaders: 'none' }),
    context('sink'),
  );
  let committed = 0;
  let finishedAt = 0;
  const pipeline = new Pipeline({
    id: unique('bench-kinesis'),
    sources: [source],
    sink,
    commit: { maxWallMs: 1_000, maxRecords: 1_000_000, maxBytes: 256 * 1024 * 1024 },
    batch: { maxRecords: 10_000 },
    observer: {
      onCommit: ({ records }) => {
        committed += records;
        if (committed >= count && finishedAt === 0) {
          finishedAt = performance.now();
          pipeline.stop();
        }
      },
    },
  });
  const started = performance.now();
  await pipeline.run();
  if (committed !== count) throw new Error(`pipeline committed ${committed} of ${count} records`);
  return count / ((finishedAt - started) / 1000);
}

export async function kinesisKafkaBench({ records, repeat }) {
  const count = records ?? 20_000;
  const runs = Math.max(3, repeat ?? 3);
  const client = kinesisClient();
  const stream = unique('bench-kinesis');
  console.log(
    `bench kinesis-kafka: ${count} records of ${RECORD_BYTES} B in ${SHARDS} shards, ${runs} runs each`,
  );
  await fillStream(client, stream, count);
  const ours = [];
  const raw = [];
  try {
    // Alternate the two so that neither gets a warmer emulator.
    for (let run = 0; run < runs; run += 1) {
      raw.push(await rawReader(stream, count));
      ours.push(await tidemark(stream, count));
      console.log(
        `  run ${run + 1}: tidemark ${Math.round(ours.at(-1))} rec/s, raw GetRecords ${Math.round(raw.at(-1))} rec/s`,
      );
    }
  } finally {
    await client.send(new DeleteStreamCommand({ StreamName: stream })).catch(() => undefined);
    client.destroy();
  }
  const [x, y] = [median(ours), median(raw)];
  console.log(
    `bench scenario=kinesis-kafka records_per_s=${Math.round(x)} baseline=raw-getrecords baseline_per_s=${Math.round(y)} ratio=${(x / y).toFixed(2)}`,
  );
}
