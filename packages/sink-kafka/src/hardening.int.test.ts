import { sleep } from '@tidemark/sdk';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  brokers,
  consumeCommitted,
  refusingOffsetsFactory,
  rejection,
  testRecord,
  uniqueName,
} from './int-test-helpers.js';
import { createKafkaSink, type KafkaSink, type KafkaSinkOptions } from './kafka-sink.js';

/** A sink closed when the test ends. */
function sinkFor(topic: string, extra: Record<string, unknown>, options: KafkaSinkOptions = {}): KafkaSink {
  const sink = createKafkaSink({ brokers, topic, ...extra }, options);
  onTestFinished(() => sink.close());
  return sink;
}

const watermarks = (line: number) => ({ files: { '/data/in.txt': line } });
const hasValue = (value: string) => (messages: readonly { value: string | null }[]) =>
  messages.some((message) => message.value === value);

describe('kafka sink hardening against a real broker', () => {
  it('close aborts the transaction a non-retriable commit failure left open, so read_committed readers move on', async () => {
    const topic = uniqueName('sink-close-abort');
    let refuse = true;
    const sink = sinkFor(
      topic,
      { transactionTimeoutMs: 120_000 },
      { clientFactory: refusingOffsetsFactory(() => refuse) },
    );
    await sink.open({ pipelineId: uniqueName('p') });
    await sink.begin();
    await sink.write([testRecord('left-open', 1)]);
    expect((await rejection(sink.commit({ watermarks: watermarks(1), rowtime: 1 }))).code).toBe('INTERNAL');
    await sink.close();
    refuse = false;

    // Another pipeline's commit on the same partition is visible only once the first
    // transaction ended: an open one holds the last stable offset back.
    const other = sinkFor(topic, {});
    await other.open({ pipelineId: uniqueName('q') });
    await other.begin();
    await other.write([testRecord('after', 2)]);
    await other.commit({ watermarks: watermarks(2), rowtime: 2 });
    const read = await consumeCommitted([topic], hasValue('after'), 8_000);
    expect(read.map((message) => message.value)).toEqual(['after']);
  }, 30_000);

  it('reports the broker aborting a transaction older than transactionTimeoutMs as a retriable timeout, and recovers', async () => {
    const topic = uniqueName('sink-txn-timeout');
    const sink = sinkFor(topic, { transactionTimeoutMs: 1_000, batch: { maxRecords: 1 } });
    await sink.open({ pipelineId: uniqueName('p') });
    await sink.begin();
    await sink.write([testRecord('too-late', 1)]);
    // The coordinator looks for timed-out transactions every 10 s (the broker's default).
    await sleep(13_000);
    const error = await rejection(
      sink
        .write([testRecord('too-late-2', 2)])
        .then(() => sink.commit({ watermarks: watermarks(2), rowtime: 2 })),
    );
    expect(error.code).toBe('TIMEOUT');
    expect(error.retriable).toBe(true);
    expect(error.message).toContain('transactionTimeoutMs (1000 ms)');

    await sink.recover();
    await sink.begin();
    await sink.write([testRecord('on-time', 3)]);
    await sink.commit({ watermarks: watermarks(3), rowtime: 3 });
    const read = await consumeCommitted([topic], hasValue('on-time'), 10_000);
    expect(read.map((message) => message.value)).toEqual(['on-time']);
  }, 45_000);
});
