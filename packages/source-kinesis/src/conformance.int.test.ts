import { describeSourceConformance } from '@tidemark/sdk/testing';
import { afterAll } from 'vitest';
import kinesisSource from './index.js';
import { createStream, deleteStream, putRecords, sourceConfig, testClient } from './test-support/streams.js';

const client = testClient();
// Two single-shard streams: several streams per source, and a per-stream order the kit can check.
let streams: string[] = [];
let produced = 0;

afterAll(() => client.destroy());

describeSourceConformance({
  connector: kinesisSource,
  config: () => sourceConfig(streams),
  setup: async () => {
    streams = [await createStream(client, 'conf-a', 1), await createStream(client, 'conf-b', 1)];
    produced = 0;
  },
  cleanup: async () => {
    await Promise.all(streams.map((stream) => deleteStream(client, stream)));
  },
  produce: async (count) => {
    const ids = Array.from({ length: count }, () => `id-${produced++}`);
    for (const [index, stream] of streams.entries()) {
      await putRecords(
        client,
        stream,
        ids
          .filter((_, position) => position % streams.length === index)
          .map((id) => ({ partitionKey: id, data: id })),
      );
    }
    return ids;
  },
  idOf: (record) => Buffer.from(record.value ?? new Uint8Array()).toString('utf8'),
  badConfig: { streams: [], start: 'earliest', maxRecordsPerCall: 0 },
  settleMs: 5_000,
});
