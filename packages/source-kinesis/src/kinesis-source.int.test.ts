import {
  advanceWatermark,
  mergeWatermarks,
  type Source,
  TidemarkError,
  type TidemarkRecord,
  type Watermark,
} from '@tidemark/sdk';
import { assertExactlyOnce } from '@tidemark/sdk/testing';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type KinesisSourceConfigInput, kinesisSourceConfigSchema } from './config.js';
import kinesisSource from './index.js';
import { createKinesisSource } from './kinesis-source.js';
import type { StreamPosition } from './stream-position.js';
import { aggregate } from './test-support/kpl.js';
import {
  createStream,
  deleteStream,
  kinesisEndpoint,
  listShards,
  mergeAdjacent,
  openShards,
  putRecords,
  sourceConfig,
  splitShard,
  testClient,
  waitEmulatorPast,
} from './test-support/streams.js';

const client = testClient();
const opened: Source[] = [];
const created: string[] = [];

afterEach(async () => {
  await Promise.all(opened.splice(0).map((source) => source.close()));
  await Promise.all(created.splice(0).map((stream) => deleteStream(client, stream)));
});

afterAll(() => client.destroy());

async function stream(label: string, shards: number): Promise<string> {
  const name = await createStream(client, label, shards);
  created.push(name);
  return name;
}

function source(streams: string[], more: Partial<KinesisSourceConfigInput> = {}): Source {
  const instance = createKinesisSource(
    kinesisSourceConfigSchema.parse(sourceConfig(streams, more)),
    'kinesis',
  );
  opened.push(instance);
  return instance;
}

const idOf = (record: TidemarkRecord) => Buffer.from(record.value ?? new Uint8Array()).toString('utf8');

/** Writes `ids` as records whose partition key is the id (spread over every shard). */
const put = (name: string, ids: string[]) =>
  putRecords(
    client,
    name,
    ids.map((id) => ({ partitionKey: id, data: id })),
  );

const range = (prefix: string, count: number) =>
  Array.from({ length: count }, (_, index) => `${prefix}-${index}`);

interface Read {
  records: TidemarkRecord[];
  watermark: Watermark;
}

/** Reads until `count` records came (or `quietMs` passed after them with nothing more), folding the watermark. */
async function readAll(
  from: Source,
  count: number,
  base: Watermark = {},
  maxRecords = 50,
  quietMs = 600,
): Promise<Read> {
  const records: TidemarkRecord[] = [];
  let watermark = base;
  const deadline = Date.now() + 30_000;
  let quietSince = Date.now();
  while (Date.now() < deadline) {
    const batch = await from.read({
      signal: new AbortController().signal,
      maxRecords,
      maxBytes: 1 << 20,
      maxWaitMs: 100,
    });
    records.push(...batch.records);
    watermark = mergeWatermarks(
      advanceWatermark(
        watermark,
        batch.records.map((record) => record.position),
      ),
      batch.advance,
    );
    if (batch.records.length > 0) quietSince = Date.now();
    if (records.length >= count && Date.now() - quietSince >= quietMs) break;
  }
  return { records, watermark };
}

/** Fails unless, within each shard, records come in ascending (sequence, sub-sequence) order. */
function expectShardOrder(records: readonly TidemarkRecord[]): void {
  const last = new Map<string, [bigint, number]>();
  for (const record of records) {
    const shard = `${record.provenance['kinesis.stream']}/${record.provenance['kinesis.shard_id']}`;
    const sequence = BigInt(record.provenance['kinesis.sequence_number'] as string);
    const sub = record.provenance['kinesis.sub_sequence_number'] as number;
    const previous = last.get(shard);
    if (previous)
      expect(sequence > previous[0] || (sequence === previous[0] && sub > previous[1])).toBe(true);
    last.set(shard, [sequence, sub]);
  }
}

/** Fails unless every record of a parent shard comes before the first record of its children. */
async function expectChildrenAfterParents(name: string, records: readonly TidemarkRecord[]): Promise<void> {
  const shards = await listShards(client, name);
  const firstIndex = new Map<string, number>();
  const lastIndex = new Map<string, number>();
  records.forEach((record, index) => {
    const shard = record.provenance['kinesis.shard_id'] as string;
    if (!firstIndex.has(shard)) firstIndex.set(shard, index);
    lastIndex.set(shard, index);
  });
  let checked = 0;
  for (const shard of shards) {
    const childFirst = firstIndex.get(shard.ShardId!);
    if (childFirst === undefined) continue;
    for (const parent of [shard.ParentShardId, shard.AdjacentParentShardId]) {
      const parentLast = parent ? lastIndex.get(parent) : undefined;
      if (parentLast === undefined) continue;
      expect(parentLast).toBeLessThan(childFirst);
      checked += 1;
    }
  }
  expect(checked).toBeGreaterThan(0);
}

describe('resharding', () => {
  it('reads a split and a merge made while it runs: each record once, children after their parents, a bounded watermark', async () => {
    const name = await stream('reshard-live', 2);
    await put(name, range('before', 30));
    const reader = source([name]);
    await reader.open(null);
    const first = await readAll(reader, 30);
    const [toSplit] = await openShards(client, name);
    await splitShard(client, name, toSplit!.ShardId!);
    await put(name, range('split', 30));
    const second = await readAll(reader, 30, first.watermark);
    await mergeAdjacent(client, name);
    await put(name, range('merge', 30));
    const third = await readAll(reader, 30, second.watermark);
    const records = [...first.records, ...second.records, ...third.records];
    assertExactlyOnce(
      records.map(idOf),
      [...range('before', 30), ...range('split', 30), ...range('merge', 30)],
      'read',
    );
    expectShardOrder(records);
    await expectChildrenAfterParents(name, records);
    const position = third.watermark[name] as unknown as StreamPosition;
    const open = (await openShards(client, name)).map((shard) => shard.ShardId!);
    expect(Object.keys(position.shards).every((shard) => open.includes(shard))).toBe(true);
    expect(Object.keys(position.shards).length + position.finished.length).toBeLessThanOrEqual(
      open.length + 2,
    );
  });

  it('starts a stream resharded before it opened at the roots, and resumes across a restart at any cut', async () => {
    const name = await stream('reshard-before', 1);
    await put(name, range('a', 20));
    const [root] = await openShards(client, name);
    await splitShard(client, name, root!.ShardId!);
    await put(name, range('b', 20));
    await mergeAdjacent(client, name);
    await put(name, range('c', 20));
    const expected = [...range('a', 20), ...range('b', 20), ...range('c', 20)];
    const reader = source([name]);
    await reader.open(null);
    const all = await readAll(reader, 60, {}, 7);
    assertExactlyOnce(all.records.map(idOf), expected, 'first read');
    await expectChildrenAfterParents(name, all.records);
    await reader.close();
    for (const cut of [1, 19, 20, 33, 45, 59]) {
      const partial = source([name]);
      await partial.open(null);
      const head = await readAll(partial, cut, {}, cut, 0);
      await partial.close();
      const kept = head.records.slice(0, cut);
      expect(kept.length).toBe(cut);
      let watermark: Watermark = {};
      watermark = advanceWatermark(
        watermark,
        kept.map((record) => record.position),
      );
      const restarted = source([name]);
      await restarted.open(JSON.parse(JSON.stringify(watermark)) as Watermark);
      const rest = await readAll(restarted, 60 - cut);
      assertExactlyOnce([...kept, ...rest.records].map(idOf), expected, `restart at cut ${cut}`);
      await restarted.close();
    }
  });
});

describe('start positions', () => {
  it('trim-horizon reads everything kept; latest only what arrives after open; startTime from that time', async () => {
    const name = await stream('start', 2);
    await put(name, range('old', 10));
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const middle = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await waitEmulatorPast(client, name, middle + 1);
    await put(name, range('mid', 10));
    // AT_TIMESTAMP is inclusive: keep the open time clear of the last arrival time.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const latest = source([name], { start: 'latest' });
    await latest.open(null);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await waitEmulatorPast(client, name, Date.now());
    await put(name, range('new', 10));
    const fromLatest = await readAll(latest, 10);
    assertExactlyOnce(fromLatest.records.map(idOf), range('new', 10), 'latest');
    const horizon = source([name]);
    await horizon.open(null);
    const fromHorizon = await readAll(horizon, 30);
    assertExactlyOnce(
      fromHorizon.records.map(idOf),
      [...range('old', 10), ...range('mid', 10), ...range('new', 10)],
      'trim-horizon',
    );
    const timed = source([name], { startTime: new Date(middle).toISOString(), start: 'latest' });
    await timed.open(null);
    const fromTime = await readAll(timed, 20);
    assertExactlyOnce(fromTime.records.map(idOf), [...range('mid', 10), ...range('new', 10)], 'startTime');
    for (const record of fromTime.records) {
      expect(record.rowtime).toBe(record.provenance['kinesis.arrival_time']);
      expect(record.rowtime).toBeGreaterThanOrEqual(middle);
    }
  });

  it('watermarkAt gives the watermark of a reset to a time or to the latest record', async () => {
    const name = await stream('reset', 1);
    await put(name, range('old', 5));
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const middle = Date.now();
    await waitEmulatorPast(client, name, middle);
    await put(name, range('mid', 5));
    const atTime = await source([name]).watermarkAt!({ time: middle });
    const reader = source([name]);
    await reader.open(atTime);
    assertExactlyOnce((await readAll(reader, 5)).records.map(idOf), range('mid', 5), 'reset to a time');
    const atLatest = await source([name]).watermarkAt!({ latest: true });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await waitEmulatorPast(client, name, Date.now());
    await put(name, range('new', 5));
    const after = source([name]);
    await after.open(atLatest);
    assertExactlyOnce((await readAll(after, 5)).records.map(idOf), range('new', 5), 'reset to latest');
  });
});

describe('aggregated records', () => {
  it('de-aggregates KPL records with the sub-sequence number in the position, and resumes inside one', async () => {
    const name = await stream('kpl', 1);
    const users = range('user', 7);
    await putRecords(client, name, [
      { partitionKey: 'plain', data: 'plain-0' },
      { partitionKey: 'agg', data: aggregate(users.map((id) => ({ partitionKey: `pk-${id}`, data: id }))) },
      { partitionKey: 'plain', data: 'plain-1' },
    ]);
    const expected = ['plain-0', ...users, 'plain-1'];
    const reader = source([name]);
    await reader.open(null);
    const all = await readAll(reader, 9, {}, 3);
    expect(all.records.map(idOf)).toEqual(expected);
    expect(all.records.map((record) => record.provenance['kinesis.sub_sequence_number'])).toEqual([
      0, 0, 1, 2, 3, 4, 5, 6, 0,
    ]);
    expect(all.records[2]!.provenance['kinesis.partition_key']).toBe('pk-user-1');
    const positions = all.records.map((record) => (record.position.next as unknown as StreamPosition).shards);
    expect(Object.values(positions[3]!)[0]).toMatch(/^\d+:2$/);
    expect(Object.values(positions[7]!)[0]).toMatch(/^\d+$/);
    for (const cut of [2, 4, 7]) {
      const watermark = advanceWatermark(
        {},
        all.records.slice(0, cut).map((record) => record.position),
      );
      const resumed = source([name]);
      await resumed.open(JSON.parse(JSON.stringify(watermark)) as Watermark);
      expect((await readAll(resumed, 9 - cut)).records.map(idOf)).toEqual(expected.slice(cut));
      await resumed.close();
    }
  });
});

describe('connection settings', () => {
  it('takes region, endpoint and credentials from the standard AWS chain when the config names none', async () => {
    const name = await stream('chain', 1);
    await put(name, range('chain', 3));
    const variables = {
      AWS_ACCESS_KEY_ID: 'tidemark',
      AWS_SECRET_ACCESS_KEY: 'tidemark',
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_KINESIS: kinesisEndpoint,
    };
    const saved = Object.fromEntries(Object.keys(variables).map((key) => [key, process.env[key]]));
    Object.assign(process.env, variables);
    try {
      const reader = createKinesisSource(
        kinesisSourceConfigSchema.parse({ streams: [name], pollIntervalMs: 50 }),
        'kinesis',
      );
      opened.push(reader);
      await reader.open(null);
      assertExactlyOnce(
        (await readAll(reader, 3)).records.map(idOf),
        range('chain', 3),
        'read through the chain',
      );
    } finally {
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });
});

describe('errors', () => {
  it('fails with NOT_FOUND and a fix for a stream that does not exist', async () => {
    const reader = source([`tm-missing-${Date.now().toString(36)}`]);
    const error = await reader.open(null).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(TidemarkError.hasCode(error, 'NOT_FOUND')).toBe(true);
    expect((error as TidemarkError).fix).toMatch(/Create the stream/);
    expect((error as TidemarkError).retriable).toBe(false);
  });

  it('the connector preflight (validate --connect) passes for an existing stream and names a missing one', async () => {
    const check = (kinesisSource as unknown as { check: (config: unknown) => Promise<void> }).check;
    const name = await stream('check', 1);
    await check(kinesisSourceConfigSchema.parse(sourceConfig([name])));
    const missing = `tm-missing-${Date.now().toString(36)}`;
    const error = await check(kinesisSourceConfigSchema.parse(sourceConfig([name, missing]))).catch(
      (thrown: unknown) => thrown,
    );
    expect(TidemarkError.hasCode(error, 'NOT_FOUND')).toBe(true);
    expect((error as TidemarkError).message).toContain(missing);
  });

  it('never puts credentials in an error message', async () => {
    const reader = createKinesisSource(
      kinesisSourceConfigSchema.parse(
        sourceConfig(['x'], {
          endpoint: 'http://127.0.0.1:1',
          credentials: { accessKeyId: 'AKIDSECRETVALUE', secretAccessKey: 'hunter2-secret' },
          maxAttempts: 1,
        }),
      ),
      'kinesis',
    );
    const error = (await reader.open(null).catch((thrown: unknown) => thrown)) as TidemarkError;
    expect(TidemarkError.isInstance(error)).toBe(true);
    expect(error.code).toBe('CONNECTION_FAILED');
    expect(`${error.message} ${error.fix} ${JSON.stringify(error.details)}`).not.toMatch(
      /hunter2|AKIDSECRET/,
    );
  });
});
