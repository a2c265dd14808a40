import {
  type PipelineWatermarks,
  serializeWatermarks,
  silentLogger,
  sleep,
  TidemarkError,
} from '@tidemark/sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { parseKafkaSinkConfig } from './config.js';
import {
  brokers,
  consumeCommitted,
  faultyClientFactory,
  testRecord,
  uniqueName,
} from './int-test-helpers.js';
import { createKafkajsClient } from './kafka-client.js';
import { createKafkaSink, type KafkaSink, type KafkaSinkOptions } from './kafka-sink.js';
import { createPlatformaticClient } from './platformatic-client.js';
import { readWatermarkOffsets, readWatermarks, readWatermarkTimestamp } from './watermark-store.js';

const openSinks: KafkaSink[] = [];

afterEach(async () => {
  await Promise.all(openSinks.splice(0).map((sink) => sink.close()));
});

function sinkFor(
  topic: string,
  extra: Record<string, unknown> = {},
  options: KafkaSinkOptions = {},
): KafkaSink {
  const sink = createKafkaSink({ brokers, topic, ...extra }, options);
  openSinks.push(sink);
  return sink;
}

function watermarksAt(line: number): PipelineWatermarks {
  return { files: { '/data/in.txt': line * 10 } };
}

const marker = (value: string) => (messages: readonly { value: string | null }[]) =>
  messages.some((message) => message.value === value);

describe('kafka sink against a real broker', () => {
  it('commits records visible to read_committed consumers, with the watermark read back', async () => {
    const topic = uniqueName('sink-commit');
    const identity = { pipelineId: uniqueName('p') };
    const sink = sinkFor(topic);
    expect(await sink.open(identity)).toEqual({ watermarks: {}, rowtime: null, committedAt: null });

    await sink.begin();
    await sink.write([testRecord('one', 1), testRecord('two', 2), testRecord('three', 3)]);
    await sink.commit({ watermarks: watermarksAt(3), rowtime: 1_700_000_000_003 });

    const messages = await consumeCommitted([topic], (read) => read.length >= 3);
    expect(messages.map((message) => message.value)).toEqual(['one', 'two', 'three']);
    expect(messages[0]!.key).toBe('k1');
    // Default provenance: one compact header, the column values in order.
    expect(messages[0]!.headers['tidemark.p']).toBe('/data/in.txt\t1');
    expect(messages[2]!.timestamp).toBe('1700000000003');

    const config = { brokers, topic };
    const state = await readWatermarks(config, identity);
    expect(state.watermarks).toEqual(watermarksAt(3));
    expect(state.rowtime).toBe(1_700_000_000_003);
    expect(state.committedAt).toBeGreaterThan(Date.now() - 60_000);
    expect(await readWatermarkOffsets(config, identity, 'files')).toEqual({ '/data/in.txt': 30 });
    expect(await readWatermarkOffsets(config, identity, 'absent')).toBeNull();
    expect(await readWatermarkTimestamp(config, identity)).toBe(1_700_000_000_003);
    expect(await sink.readCommitted(identity)).toEqual(state);
    expect(sink.state).toBe('idle');
  });

  it("writes one header per provenance column with provenanceHeaders: 'columns', none with 'none'", async () => {
    const identity = { pipelineId: uniqueName('p') };
    const columnsTopic = uniqueName('sink-columns');
    const columns = sinkFor(columnsTopic, { provenanceHeaders: 'columns' });
    await columns.open(identity);
    await columns.begin();
    await columns.write([testRecord('one', 1)]);
    await columns.commit({ watermarks: watermarksAt(1), rowtime: 1 });
    const noneTopic = uniqueName('sink-none');
    const none = sinkFor(noneTopic, { provenanceHeaders: false });
    await none.open({ pipelineId: uniqueName('p') });
    await none.begin();
    await none.write([testRecord('two', 2)]);
    await none.commit({ watermarks: watermarksAt(2), rowtime: 2 });

    const [withColumns] = await consumeCommitted([columnsTopic], (read) => read.length >= 1);
    expect(withColumns!.headers).toEqual({
      'tidemark.file.path': '/data/in.txt',
      'tidemark.file.line': '1',
      'tidemark.pipeline': identity.pipelineId,
    });
    const [withNone] = await consumeCommitted([noneTopic], (read) => read.length >= 1);
    expect(withNone!.headers).toEqual({});
  });

  it('abort leaves nothing visible', async () => {
    const topic = uniqueName('sink-abort');
    const identity = { pipelineId: uniqueName('p') };
    const sink = sinkFor(topic, { batch: { maxRecords: 1 } });
    await sink.open(identity);

    await sink.begin();
    await sink.write([testRecord('aborted-1', 1), testRecord('aborted-2', 2)]);
    await sink.abort();
    expect(sink.state).toBe('idle');
    expect((await sink.readCommitted(identity)).watermarks).toEqual({});

    await sink.begin();
    await sink.write([testRecord('after', 3)]);
    await sink.commit({ watermarks: watermarksAt(3), rowtime: null });

    const messages = await consumeCommitted([topic], marker('after'));
    expect(messages.map((message) => message.value)).toEqual(['after']);
  });

  it('an empty transaction that only re-commits the watermark works (idle pipelines)', async () => {
    const topic = uniqueName('sink-idle');
    const identity = { pipelineId: uniqueName('p') };
    const sink = sinkFor(topic);
    await sink.open(identity);
    for (let round = 0; round < 2; round += 1) {
      await sink.begin();
      await sink.commit({ watermarks: watermarksAt(7), rowtime: 42 });
    }
    const state = await sink.readCommitted(identity);
    expect(state.watermarks).toEqual(watermarksAt(7));
    expect(state.rowtime).toBe(42);
  });

  it('a second sink with the same pipeline id fences the first and sees its committed watermark', async () => {
    const topic = uniqueName('sink-fence');
    const identity = { pipelineId: uniqueName('p') };
    const first = sinkFor(topic);
    await first.open(identity);
    await first.begin();
    await first.write([testRecord('from-first', 1)]);
    await first.commit({ watermarks: watermarksAt(1), rowtime: 11 });

    const second = sinkFor(topic);
    const seen = await second.open(identity);
    expect(seen.watermarks).toEqual(watermarksAt(1));
    expect(seen.rowtime).toBe(11);

    await first.begin();
    await first.write([testRecord('zombie', 2)]);
    const failure = await first
      .commit({ watermarks: watermarksAt(2), rowtime: 12 })
      .catch((error: unknown) => error);
    expect(TidemarkError.hasCode(failure, 'FENCED')).toBe(true);
    expect((failure as TidemarkError).retriable).toBe(false);
    // A fenced sink stays fenced: it must not take the transactional id back.
    expect(TidemarkError.hasCode(await first.recover().catch((error: unknown) => error), 'FENCED')).toBe(
      true,
    );

    await second.begin();
    await second.write([testRecord('from-second', 2)]);
    await second.commit({ watermarks: watermarksAt(2), rowtime: 12 });
    const messages = await consumeCommitted([topic], marker('from-second'));
    expect(messages.map((message) => message.value)).toEqual(['from-first', 'from-second']);
    expect((await second.readCommitted(identity)).watermarks).toEqual(watermarksAt(2));
  });

  it('open after a crash mid-transaction: the pending records never show, the watermark is the old one', async () => {
    const topic = uniqueName('sink-crash');
    const identity = { pipelineId: uniqueName('p') };
    const crashed = sinkFor(topic, { batch: { maxRecords: 1 } });
    await crashed.open(identity);
    await crashed.begin();
    await crashed.write([testRecord('committed', 1)]);
    await crashed.commit({ watermarks: watermarksAt(1), rowtime: 1 });
    await crashed.begin();
    // maxRecords 1: these are sent to the broker inside the open transaction.
    await crashed.write([testRecord('pending-1', 2), testRecord('pending-2', 3), testRecord('pending-3', 4)]);

    const restarted = sinkFor(topic);
    const state = await restarted.open(identity);
    expect(state.watermarks).toEqual(watermarksAt(1));
    expect(state.rowtime).toBe(1);

    await restarted.begin();
    await restarted.write([testRecord('resumed', 2)]);
    await restarted.commit({ watermarks: watermarksAt(2), rowtime: 2 });
    const messages = await consumeCommitted([topic], marker('resumed'));
    expect(messages.map((message) => message.value)).toEqual(['committed', 'resumed']);
  });

  it('recover() after an uncertain commit returns what really committed', async () => {
    const topic = uniqueName('sink-uncertain');
    const identity = { pipelineId: uniqueName('p') };
    // EndTxn fails with a timeout: once after really committing, once without committing.
    let mode: 'commit-then-fail' | 'fail-without-commit' | 'pass' = 'pass';
    const injecting = faultyClientFactory(() => mode);
    const sink = sinkFor(topic, {}, { clientFactory: injecting });
    await sink.open(identity);

    mode = 'commit-then-fail';
    await sink.begin();
    await sink.write([testRecord('really-committed', 1)]);
    const first = await sink
      .commit({ watermarks: watermarksAt(1), rowtime: 1 })
      .catch((error: unknown) => error);
    expect(TidemarkError.hasCode(first, 'COMMIT_UNCERTAIN')).toBe(true);
    expect(sink.state).toBe('uncertain');
    expect(TidemarkError.hasCode(await sink.abort().catch((error: unknown) => error), 'ILLEGAL_STATE')).toBe(
      true,
    );
    expect((await sink.recover()).watermarks).toEqual(watermarksAt(1));

    mode = 'fail-without-commit';
    await sink.begin();
    await sink.write([testRecord('never-committed', 2)]);
    const second = await sink
      .commit({ watermarks: watermarksAt(2), rowtime: 2 })
      .catch((error: unknown) => error);
    expect(TidemarkError.hasCode(second, 'COMMIT_UNCERTAIN')).toBe(true);
    expect((await sink.recover()).watermarks).toEqual(watermarksAt(1));

    mode = 'pass';
    await sink.begin();
    await sink.write([testRecord('replayed', 2)]);
    await sink.commit({ watermarks: watermarksAt(2), rowtime: 2 });
    const messages = await consumeCommitted([topic], marker('replayed'));
    expect(messages.map((message) => message.value)).toEqual(['really-committed', 'replayed']);
  });

  it('a read while the first commit of a new group is still pending waits for that commit', async () => {
    // The broker applies require_stable only to partitions a request names; a read of "every
    // partition of the group" leaves pending offsets out and, for a new group, reads nothing.
    const topic = uniqueName('sink-stable');
    const group = uniqueName('stable-group');
    const config = parseKafkaSinkConfig({ brokers, topic });
    const client = createPlatformaticClient(config, silentLogger);
    const admin = client.createAdmin();
    const producer = client.createProducer(uniqueName('stable-txn'));
    await admin.connect();
    try {
      await admin.createTopics([{ topic, partitions: 2 }]);
      await producer.connect();
      const transaction = await producer.begin();
      await transaction.send([{ topic, messages: [{ key: null, value: Buffer.from('x'), headers: {} }] }]);
      await transaction.sendOffsets(group, [
        { topic, partition: 0, offset: 7, metadata: 'header' },
        { topic, partition: 1, offset: 7, metadata: 'chunk' },
      ]);
      const read = admin.fetchOffsets(group, topic, [0, 1]);
      await sleep(300);
      await transaction.commit();
      expect(await read).toEqual([
        { partition: 0, offset: 7, metadata: 'header' },
        { partition: 1, offset: 7, metadata: 'chunk' },
      ]);
    } finally {
      await producer.disconnect();
      await admin.disconnect();
    }
  });

  it('commits a 2,000-file watermark atomically and reads it back intact', async () => {
    const topic = uniqueName('sink-large');
    const watermarkTopic = uniqueName('sink-large-watermarks');
    const identity = { pipelineId: uniqueName('p') };
    const files: Record<string, { position: string; line: number; inode: string }> = {};
    for (let index = 0; index < 2_000; index += 1) {
      const path = `/var/spool/tidemark/ingest/region-${index % 17}/customer-${index * 7919}/orders-${index}-${(index * 2654435761) % 4294967296}.csv`;
      files[path] = {
        position: String(1_000_000 + index * 131),
        line: index * 3 + 1,
        inode: `${index * 104729}`,
      };
    }
    const watermarks: PipelineWatermarks = { files, kafka: { 'orders/0': '123456789012' } };
    const sink = sinkFor(topic, { watermarkTopic });
    await sink.open(identity);
    await sink.begin();
    await sink.write([testRecord('big', 1)]);
    await sink.commit({ watermarks, rowtime: 99 });

    const state = await readWatermarks({ brokers, topic, watermarkTopic }, identity);
    expect(serializeWatermarks(state.watermarks)).toBe(serializeWatermarks(watermarks));
    expect(state.rowtime).toBe(99);

    // It really needed several entries: the chunks sit on the watermark topic's partitions.
    const config = parseKafkaSinkConfig({ brokers, topic, watermarkTopic });
    const admin = createKafkajsClient(config, (await import('@tidemark/sdk')).silentLogger).createAdmin();
    await admin.connect();
    try {
      const group = `${topic}_watermark.${identity.pipelineId}`;
      const chunks = (await admin.fetchOffsets(group, watermarkTopic)).filter((entry) => entry.offset >= 0);
      expect(chunks.length).toBeGreaterThan(1);
      for (const chunk of chunks)
        expect(Buffer.byteLength(chunk.metadata ?? '', 'utf8')).toBeLessThanOrEqual(4096);
    } finally {
      await admin.disconnect();
    }

    // A smaller watermark later replaces it; the stale chunks are ignored.
    await sink.begin();
    await sink.commit({ watermarks: watermarksAt(5), rowtime: 100 });
    const reopened = sinkFor(topic, { watermarkTopic });
    expect((await reopened.open(identity)).watermarks).toEqual(watermarksAt(5));
  });

  it("routes 'dead-letter' records to the dead-letter topic in the same transaction", async () => {
    const topic = uniqueName('sink-main');
    const deadLetterTopic = uniqueName('sink-dlq');
    const identity = { pipelineId: uniqueName('p') };
    const sink = sinkFor(topic, { deadLetterTopic });
    expect(sink.capabilities).toEqual({ transactional: true, deadLetter: true });
    await sink.open(identity);

    await sink.begin();
    await sink.write([
      { ...testRecord('dropped', 1, 'dead-letter'), poison: 'bad json' },
      testRecord('dropped-main', 2),
    ]);
    await sink.abort();

    await sink.begin();
    await sink.write([
      testRecord('good', 3),
      { ...testRecord('poison', 4, 'dead-letter'), poison: 'bad json' },
      testRecord('good-too', 5, 'main'),
    ]);
    await sink.commit({ watermarks: watermarksAt(5), rowtime: 5 });

    const messages = await consumeCommitted([topic, deadLetterTopic], (read) => read.length >= 3);
    const main = messages.filter((message) => message.topic === topic).map((message) => message.value);
    const deadLettered = messages.filter((message) => message.topic === deadLetterTopic);
    expect(main).toEqual(['good', 'good-too']);
    expect(deadLettered.map((message) => message.value)).toEqual(['poison']);
    expect(deadLettered[0]!.headers['tidemark.error']).toBe('bad json');
  });

  it('keeps separate watermarks for two pipelines writing one topic', async () => {
    const topic = uniqueName('sink-shared');
    const first = { pipelineId: uniqueName('p1') };
    const second = { pipelineId: uniqueName('p2') };
    const sinkA = sinkFor(topic);
    const sinkB = sinkFor(topic);
    await sinkA.open(first);
    await sinkB.open(second);
    await sinkA.begin();
    await sinkB.begin();
    await sinkA.write([testRecord('a', 1)]);
    await sinkB.write([testRecord('b', 2)]);
    await sinkA.commit({ watermarks: watermarksAt(1), rowtime: 1 });
    await sinkB.commit({ watermarks: watermarksAt(2), rowtime: 2 });
    expect((await readWatermarks({ brokers, topic }, first)).watermarks).toEqual(watermarksAt(1));
    expect((await readWatermarks({ brokers, topic }, second)).watermarks).toEqual(watermarksAt(2));

    // A fixed group shared by mistake is detected instead of silently mixing watermarks.
    const watermarkGroup = uniqueName('fixed-group');
    const fixedA = sinkFor(topic, { watermarkGroup });
    await fixedA.open(first);
    await fixedA.begin();
    await fixedA.commit({ watermarks: watermarksAt(3), rowtime: 3 });
    const failure = await readWatermarks({ brokers, topic, watermarkGroup }, second).catch(
      (error: unknown) => error,
    );
    expect(TidemarkError.hasCode(failure, 'WATERMARK_INVALID')).toBe(true);
    expect((failure as Error).message).toContain(watermarkGroup);
  });

  it('fails with CONNECTION_FAILED within a bounded time when no broker answers', async () => {
    const sink = sinkFor(uniqueName('sink-down'), { brokers: ['127.0.0.1:1'], connectTimeoutMs: 5_000 });
    const started = Date.now();
    const failure = await sink.open({ pipelineId: uniqueName('p') }).catch((error: unknown) => error);
    const elapsed = Date.now() - started;
    expect(TidemarkError.hasCode(failure, 'CONNECTION_FAILED')).toBe(true);
    expect((failure as TidemarkError).retriable).toBe(true);
    expect((failure as TidemarkError).fix).toMatch(/start Kafka or set brokers/i);
    expect(elapsed).toBeLessThan(8_000);
    expect(sink.state).toBe('closed');
  });
});
