// Chaos scenario kinesis-kafka: a Kinesis stream → Kafka pipeline SIGKILLed at random while a
// producer writes (plain records and KPL-aggregated ones) and the harness reshards the stream
// (a split, then a merge, alternating) during the run. Every record's partition key is its
// logical stream, so the per-stream order the verifier checks holds only if child shards are
// read after their parents.
import { createHash } from 'node:crypto';
import {
  CreateStreamCommand,
  DeleteStreamCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  ListShardsCommand,
  MergeShardsCommand,
  PutRecordsCommand,
  SplitShardCommand,
} from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import {
  brokers,
  CommittedReader,
  createTopic,
  killLoop,
  PipelineProcess,
  random,
  sleep,
  uniqueName,
  verify,
} from '../harness.mjs';

const endpoint = process.env.TIDEMARK_KINESIS_ENDPOINT || 'http://127.0.0.1:4567';
const region = 'us-east-1';
const credentials = () => ({ accessKeyId: 'tidemark', secretAccessKey: 'tidemark' });
const KEYS = 12;

function kinesisClient() {
  return new KinesisClient({
    endpoint,
    region,
    credentials: credentials(),
    // HTTP/1.1: over HTTP/2 the emulator now and then answers a write the client reports as failed.
    requestHandler: new NodeHttpHandler({ connectionTimeout: 5_000, requestTimeout: 30_000 }),
  });
}

async function waitActive(client, stream) {
  for (let attempt = 0; attempt < 300; attempt += 1) {
    const summary = await client
      .send(new DescribeStreamSummaryCommand({ StreamName: stream }))
      .catch(() => undefined);
    if (summary?.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return;
    await sleep(100);
  }
  throw new Error(`stream ${stream} did not become ACTIVE`);
}

async function openShards(client, stream) {
  const { Shards = [] } = await client.send(new ListShardsCommand({ StreamName: stream }));
  return Shards.filter((shard) => !shard.SequenceNumberRange?.EndingSequenceNumber).sort((a, b) =>
    BigInt(a.HashKeyRange.StartingHashKey) < BigInt(b.HashKeyRange.StartingHashKey) ? -1 : 1,
  );
}

/** Splits the widest open shard in the middle of its hash range. */
async function split(client, stream) {
  const shards = await openShards(client, stream);
  const width = (shard) =>
    BigInt(shard.HashKeyRange.EndingHashKey) - BigInt(shard.HashKeyRange.StartingHashKey);
  const widest = shards.reduce((best, shard) => (width(shard) > width(best) ? shard : best));
  const start = BigInt(widest.HashKeyRange.StartingHashKey);
  const end = BigInt(widest.HashKeyRange.EndingHashKey);
  await client.send(
    new SplitShardCommand({
      StreamName: stream,
      ShardToSplit: widest.ShardId,
      NewStartingHashKey: ((start + end) / 2n + 1n).toString(),
    }),
  );
  await waitActive(client, stream);
  return `split ${widest.ShardId}`;
}

/** Merges the first two adjacent open shards. */
async function merge(client, stream) {
  const shards = await openShards(client, stream);
  for (let index = 0; index + 1 < shards.length; index += 1) {
    const [lower, upper] = [shards[index], shards[index + 1]];
    if (BigInt(lower.HashKeyRange.EndingHashKey) + 1n !== BigInt(upper.HashKeyRange.StartingHashKey))
      continue;
    await client.send(
      new MergeShardsCommand({
        StreamName: stream,
        ShardToMerge: lower.ShardId,
        AdjacentShardToMerge: upper.ShardId,
      }),
    );
    await waitActive(client, stream);
    return `merged ${lower.ShardId}+${upper.ShardId}`;
  }
  return 'no adjacent shards to merge';
}

/** A KPL aggregated record: magic, protobuf AggregatedRecord, MD5 of the protobuf. */
function aggregated(partitionKey, payloads) {
  const varint = (value) => {
    const bytes = [];
    let rest = value;
    while (rest >= 0x80) {
      bytes.push((rest % 0x80) | 0x80);
      rest = Math.floor(rest / 0x80);
    }
    bytes.push(rest);
    return Buffer.from(bytes);
  };
  const field = (number, bytes) => Buffer.concat([varint(number * 8 + 2), varint(bytes.length), bytes]);
  const parts = [field(1, Buffer.from(partitionKey))];
  for (const payload of payloads) {
    parts.push(field(3, Buffer.concat([Buffer.from([0x08, 0x00]), field(3, Buffer.from(payload))])));
  }
  const protobuf = Buffer.concat(parts);
  const magic = Buffer.from([0xf3, 0x89, 0x9a, 0xc2]);
  return Buffer.concat([magic, protobuf, createHash('md5').update(protobuf).digest()]);
}

/**
 * Writes `{ id, stream, seq }` records; partition key = logical stream `k<n>`. A request holds at
 * most one Kinesis record per key and refused records are retried before the next request, so
 * each key's records land in its shard in seq order.
 */
class KinesisFeeder {
  constructor(client, stream, rng) {
    this.client = client;
    this.stream = stream;
    this.rng = rng;
    this.expected = [];
    this.seq = new Array(KEYS).fill(0);
    this.aggregates = 0;
  }

  start() {
    this.running = true;
    this.done = (async () => {
      while (this.running) {
        const entries = [];
        const records = [];
        for (let key = 0; key < KEYS; key += 1) {
          if (this.rng() < 0.5) continue;
          const count = this.rng() < 0.2 ? this.rng.between(2, 8) : 1;
          const items = [];
          for (let index = 0; index < count; index += 1) {
            this.seq[key] += 1;
            items.push({ id: `k${key}-${this.seq[key]}`, stream: `k${key}`, seq: this.seq[key] });
          }
          const payloads = items.map((item) => JSON.stringify(item));
          const data = count === 1 ? Buffer.from(payloads[0]) : aggregated(`k${key}`, payloads);
          if (count > 1) this.aggregates += 1;
          entries.push({ PartitionKey: `k${key}`, Data: data });
          records.push(items);
        }
        await this.#put(entries);
        for (const items of records) this.expected.push(...items);
        await sleep(this.rng.between(5, 40));
      }
    })();
  }

  async #put(entries) {
    let remaining = entries;
    for (let attempt = 0; remaining.length > 0; attempt += 1) {
      if (attempt > 50) throw new Error(`PutRecords kept refusing ${remaining.length} records`);
      const answer = await this.client.send(
        new PutRecordsCommand({ StreamName: this.stream, Records: remaining }),
      );
      remaining = remaining.filter((_, index) => answer.Records?.[index]?.ErrorCode !== undefined);
      if (remaining.length > 0) await sleep(50);
    }
  }

  async stop() {
    this.running = false;
    await this.done;
  }
}

export async function kinesisKafka({ kills, seed, log }) {
  const rng = random(seed);
  const client = kinesisClient();
  const stream = uniqueName('chaos-kinesis');
  await client.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 2 }));
  await waitActive(client, stream);
  const sinkTopic = uniqueName('chaos-kinesis-out');
  await createTopic(sinkTopic, 1);
  const reader = new CommittedReader(sinkTopic);
  await reader.start();
  const feeder = new KinesisFeeder(client, stream, rng);
  feeder.start();
  const spec = {
    pipelineId: uniqueName('chaos-kinesis'),
    sources: [
      {
        name: 'clicks',
        package: '@tidemark/source-kinesis',
        options: {
          streams: [stream],
          endpoint,
          region,
          credentials: credentials(),
          pollIntervalMs: 50,
          shardRefreshMs: 1_000,
        },
      },
    ],
    sink: {
      package: '@tidemark/sink-kafka',
      options: { brokers, topic: sinkTopic, clientId: 'tidemark-chaos' },
    },
    commit: { maxWallMs: 300, maxRecords: 2_000 },
  };
  // Reshards while the pipeline runs: a split, then a merge, alternating, every 1.5–3 s.
  const reshards = [];
  let resharding = true;
  let reshardError;
  const resharder = (async () => {
    while (resharding) {
      await sleep(rng.between(1_500, 3_000));
      if (!resharding) break;
      const action = reshards.length % 2 === 0 ? split : merge;
      reshards.push(await action(client, stream));
    }
  })().catch((error) => {
    reshardError = error;
  });
  try {
    const current = await killLoop({ kills, rng, log, spawnPipeline: () => new PipelineProcess(spec, log) });
    resharding = false;
    await resharder;
    if (reshardError) throw reshardError;
    if (reshards.length < 2) reshards.push(await split(client, stream), await merge(client, stream));
    log(`reshards: ${reshards.join(', ')}`);
    await feeder.stop();
    log(`feeding stopped: ${feeder.expected.length} source records; waiting for the pipeline to commit them`);
    await reader.waitFor(new Set(feeder.expected.map((record) => record.id)).size, { progress: log });
    const code = await current.stop();
    if (code !== 0) log(`last pipeline exited with ${code}: ${current.stderrTail.slice(-5).join(' | ')}`);
    await reader.waitFor(0, { settleMs: 1_500 });
    await reader.stop();
    const splits = reshards.filter((entry) => entry.startsWith('split')).length;
    const merges = reshards.filter((entry) => entry.startsWith('merged')).length;
    return {
      kills,
      ...verify(feeder.expected, reader.records),
      notes: `splits=${splits} merges=${merges} aggregated_records=${feeder.aggregates}`,
    };
  } finally {
    resharding = false;
    await client.send(new DeleteStreamCommand({ StreamName: stream })).catch(() => undefined);
    client.destroy();
  }
}
