import { randomUUID } from 'node:crypto';
import {
  CreateStreamCommand,
  DeleteStreamCommand,
  DescribeStreamSummaryCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListShardsCommand,
  MergeShardsCommand,
  PutRecordsCommand,
  type Shard,
  SplitShardCommand,
} from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { KinesisSourceConfigInput } from '../config.js';

/** Test helpers against the local Kinesis emulator (`TIDEMARK_KINESIS_ENDPOINT`, default :4567). */
export const kinesisEndpoint = process.env.TIDEMARK_KINESIS_ENDPOINT || 'http://127.0.0.1:4567';
export const testCredentials = { accessKeyId: 'tidemark', secretAccessKey: 'tidemark' };

export function testClient(): KinesisClient {
  return new KinesisClient({
    endpoint: kinesisEndpoint,
    region: 'us-east-1',
    // A copy: the AWS client marks the credentials object it is given.
    credentials: { ...testCredentials },
    requestHandler: new NodeHttpHandler({ connectionTimeout: 5_000, requestTimeout: 30_000 }),
  });
}

/** Source settings reading `streams` on the emulator, polling quickly. */
export function sourceConfig(
  streams: string[],
  more: Partial<KinesisSourceConfigInput> = {},
): KinesisSourceConfigInput {
  return {
    streams,
    endpoint: kinesisEndpoint,
    region: 'us-east-1',
    credentials: { ...testCredentials },
    pollIntervalMs: 50,
    ...more,
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A stream name unique to this call (deleting a missing stream can wipe a same-name new one). */
export function uniqueStreamName(label: string): string {
  return `tm-${label}-${randomUUID().slice(0, 12)}`;
}

/** Waits (on this process's monotonic clock) until `stream` is ACTIVE; at most 60 s. */
export async function waitActive(client: KinesisClient, stream: string): Promise<void> {
  const deadline = performance.now() + 60_000;
  while (performance.now() < deadline) {
    const summary = await client
      .send(new DescribeStreamSummaryCommand({ StreamName: stream }))
      .catch(() => undefined);
    if (summary?.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return;
    await sleep(100);
  }
  throw new Error(`stream ${stream} did not become ACTIVE within 60 s`);
}

/**
 * Waits until the emulator's clock has passed `time` (epoch ms of this machine's clock), so a
 * record put next arrives at or after it by the emulator's clock too. The emulator keeps time
 * from its own start on a monotonic clock, which a loaded virtual machine can leave behind the
 * wall clock; it says so by refusing an AT_TIMESTAMP iterator "in the future", which this asks
 * for until it is granted (at most 30 s).
 */
export async function waitEmulatorPast(client: KinesisClient, stream: string, time: number): Promise<void> {
  const deadline = performance.now() + 30_000;
  while (true) {
    try {
      await client.send(
        new GetShardIteratorCommand({
          StreamName: stream,
          ShardId: 'shardId-000000000000',
          ShardIteratorType: 'AT_TIMESTAMP',
          Timestamp: new Date(time),
        }),
      );
      return;
    } catch (error) {
      if (!/in the future/i.test((error as Error).message) || performance.now() > deadline) throw error;
      await sleep(50);
    }
  }
}

export async function createStream(client: KinesisClient, label: string, shards: number): Promise<string> {
  const stream = uniqueStreamName(label);
  await client.send(new CreateStreamCommand({ StreamName: stream, ShardCount: shards }));
  await waitActive(client, stream);
  return stream;
}

export async function deleteStream(client: KinesisClient, stream: string): Promise<void> {
  await client
    .send(new DeleteStreamCommand({ StreamName: stream, EnforceConsumerDeletion: true }))
    .catch(() => undefined);
}

/** Writes records (retrying the ones the service refuses); returns nothing until all are in. */
export async function putRecords(
  client: KinesisClient,
  stream: string,
  records: readonly { partitionKey: string; data: Uint8Array | string }[],
): Promise<void> {
  let remaining = records.map((record) => ({
    PartitionKey: record.partitionKey,
    Data: typeof record.data === 'string' ? Buffer.from(record.data, 'utf8') : record.data,
  }));
  for (let attempt = 0; remaining.length > 0; attempt += 1) {
    if (attempt > 20) throw new Error(`PutRecords kept failing for ${remaining.length} records`);
    const chunk = remaining.slice(0, 500);
    const answer = await client.send(new PutRecordsCommand({ StreamName: stream, Records: chunk }));
    const failed = chunk.filter((_, index) => answer.Records?.[index]?.ErrorCode !== undefined);
    remaining = [...failed, ...remaining.slice(500)];
    if (failed.length > 0) await sleep(100);
  }
}

export async function listShards(client: KinesisClient, stream: string): Promise<Shard[]> {
  const answer = await client.send(new ListShardsCommand({ StreamName: stream }));
  return answer.Shards ?? [];
}

export const openShards = async (client: KinesisClient, stream: string) =>
  (await listShards(client, stream)).filter((shard) => !shard.SequenceNumberRange?.EndingSequenceNumber);

/** Splits `shardId` at the middle of its hash key range; waits for the stream to be ACTIVE. */
export async function splitShard(client: KinesisClient, stream: string, shardId: string): Promise<void> {
  const shard = (await listShards(client, stream)).find((entry) => entry.ShardId === shardId);
  if (!shard?.HashKeyRange) throw new Error(`shard ${shardId} not found in ${stream}`);
  const start = BigInt(shard.HashKeyRange.StartingHashKey!);
  const end = BigInt(shard.HashKeyRange.EndingHashKey!);
  await client.send(
    new SplitShardCommand({
      StreamName: stream,
      ShardToSplit: shardId,
      NewStartingHashKey: ((start + end) / 2n + 1n).toString(),
    }),
  );
  await waitActive(client, stream);
}

/** Merges two adjacent open shards (lower hash range first); waits for ACTIVE. */
export async function mergeAdjacent(client: KinesisClient, stream: string): Promise<[string, string]> {
  const shards = (await openShards(client, stream)).sort((a, b) =>
    BigInt(a.HashKeyRange!.StartingHashKey!) < BigInt(b.HashKeyRange!.StartingHashKey!) ? -1 : 1,
  );
  for (let index = 0; index + 1 < shards.length; index += 1) {
    const lower = shards[index]!;
    const upper = shards[index + 1]!;
    if (BigInt(lower.HashKeyRange!.EndingHashKey!) + 1n !== BigInt(upper.HashKeyRange!.StartingHashKey!))
      continue;
    await client.send(
      new MergeShardsCommand({
        StreamName: stream,
        ShardToMerge: lower.ShardId!,
        AdjacentShardToMerge: upper.ShardId!,
      }),
    );
    await waitActive(client, stream);
    return [lower.ShardId!, upper.ShardId!];
  }
  throw new Error(`no two adjacent open shards in ${stream}`);
}
