import { Pipeline, type Source, type TidemarkRecord } from '@tidemark/sdk';
import { describe, expect, it } from 'vitest';
import { brokers, consumeCommitted, uniqueName } from './int-test-helpers.js';
import { createKafkaSink } from './kafka-sink.js';

/** A bounded source of the given values, one unit, positions 1…n. */
function valuesSource(values: readonly string[], rowtimes: readonly number[] = []): Source {
  let next = 0;
  const record = (index: number): TidemarkRecord => ({
    key: null,
    value: Buffer.from(values[index]!),
    headers: {},
    rowtime: rowtimes[index] ?? 1_700_000_000_000 + index,
    provenance: { 'test.index': index },
    position: { unit: 'values', next: index + 1 },
  });
  return {
    name: 'values',
    provenance: [{ name: 'test.index', type: 'integer', description: 'Index of the value.' }],
    capabilities: { replay: 'seek', exactlyOnce: true, bounded: true },
    async open(watermark) {
      next = Number(watermark?.values ?? 0);
    },
    async read() {
      const records = values.slice(next).map((_, offset) => record(next + offset));
      next = values.length;
      return { records, end: true };
    },
    async seek(watermark) {
      next = Number(watermark?.values ?? 0);
    },
    async acknowledge() {},
    async close() {},
  };
}

describe('sink-side poison against a real broker', () => {
  it("poison: dead-letter routes a record the sink cannot encode to the dead-letter topic, in the pipeline's one transaction", async () => {
    const topic = uniqueName('dl-main');
    const deadLetterTopic = uniqueName('dl-dead');
    const sink = createKafkaSink({ brokers, topic, deadLetterTopic, valueFormat: 'json' });
    const pipeline = new Pipeline({
      id: uniqueName('dl-pipeline'),
      sources: [valuesSource(['{"n":1}', 'not json', '{"n":3}'])],
      sink,
      poison: 'dead-letter',
      commit: { maxWallMs: 60_000 },
    });
    const result = await pipeline.run();
    expect(result.reason).toBe('ended');
    expect(result.status.commits).toBe(1);
    expect(result.status.recordsOut).toBe(2);

    const messages = await consumeCommitted([topic, deadLetterTopic], (read) => read.length >= 3);
    const main = messages.filter((message) => message.topic === topic);
    const dead = messages.filter((message) => message.topic === deadLetterTopic);
    expect(main.map((message) => message.value)).toEqual(['{"n":1}', '{"n":3}']);
    expect(dead.map((message) => message.value)).toEqual(['not json']);
    expect(dead[0]!.headers['tidemark.error']).toMatch(/value .* is not valid JSON/);
    expect(dead[0]!.headers['tidemark.source']).toBe('values');
    const state = await sink.readCommitted({ pipelineId: pipeline.id });
    expect(state.watermarks).toEqual({ values: { values: 3 } });
  });

  it('poison: fail stops the pipeline before anything of the transaction commits', async () => {
    const topic = uniqueName('dl-fail');
    const sink = createKafkaSink({ brokers, topic, valueFormat: 'json' });
    const pipeline = new Pipeline({
      id: uniqueName('dl-fail-pipeline'),
      sources: [valuesSource(['{"n":1}', 'not json'])],
      sink,
      poison: 'fail',
    });
    const error = await pipeline.run().catch((thrown: unknown) => thrown);
    expect((error as { code?: string }).code).toBe('POISON_RECORD');
    const check = createKafkaSink({ brokers, topic });
    expect((await check.readCommitted({ pipelineId: pipeline.id })).watermarks).toEqual({});
  });

  it('treats a record larger than the topic accepts, or a rowtime that is no Kafka timestamp, as poison; cuts a dead letter to fit', async () => {
    const topic = uniqueName('dl-size');
    const deadLetterTopic = uniqueName('dl-size-dead');
    const sink = createKafkaSink({ brokers, topic, deadLetterTopic });
    const huge = 'h'.repeat(1_048_576);
    const pipeline = new Pipeline({
      id: uniqueName('dl-size-pipeline'),
      sources: [
        valuesSource(['small 1', huge, 'nanoseconds', 'small 2', 'far future'], [1, 2, 1.7e18, 4, 1e300]),
      ],
      sink,
      poison: 'dead-letter',
      commit: { maxWallMs: 60_000 },
    });
    const result = await pipeline.run();
    expect(result.reason).toBe('ended');
    const messages = await consumeCommitted([topic, deadLetterTopic], (read) => read.length >= 5);
    const main = messages.filter((message) => message.topic === topic);
    const dead = messages.filter((message) => message.topic === deadLetterTopic);
    expect(main.map((message) => message.value)).toEqual(['small 1', 'small 2']);
    expect(dead.map((message) => message.value!.slice(0, 11))).toEqual([
      'hhhhhhhhhhh',
      'nanoseconds',
      'far future',
    ]);
    expect(dead[0]!.headers['tidemark.error']).toMatch(/max\.message\.bytes|message\.max\.bytes/);
    expect(dead[0]!.headers['tidemark.error']).toContain('test.index=1');
    expect(dead[0]!.headers['tidemark.original-bytes']).toBe('1048576');
    expect(dead[0]!.value!.length).toBeLessThan(1_048_576);
    expect(dead[0]!.value!.length).toBeGreaterThan(1_000_000);
    expect(dead[1]!.headers['tidemark.error']).toContain('no Kafka timestamp');
  });

  it('poison: fail names the record and the option when a record cannot fit', async () => {
    const topic = uniqueName('dl-size-fail');
    const sink = createKafkaSink({ brokers, topic });
    const pipeline = new Pipeline({
      id: uniqueName('dl-size-fail-pipeline'),
      sources: [valuesSource(['x'.repeat(1_048_576)])],
      sink,
      poison: 'fail',
    });
    const error = (await pipeline.run().catch((thrown: unknown) => thrown)) as {
      code?: string;
      message: string;
      fix?: string;
    };
    expect(error.code).toBe('POISON_RECORD');
    expect(error.message).toContain('test.index');
    expect(error.message).toContain('more than topic');
    expect(error.fix).toMatch(/^Keep records under \d+ bytes .* or raise max\.message\.bytes of topic/);
  });

  it('opens on existing topics without asking the broker to create them again (no warning at every start)', async () => {
    const topic = uniqueName('dl-reopen');
    const deadLetterTopic = uniqueName('dl-reopen-dead');
    const warnings: string[] = [];
    const logger = {
      child: () => logger,
      debug: () => {},
      info: () => {},
      error: () => {},
      warn: (_fields: unknown, message: string) => warnings.push(message),
    };
    for (let run = 0; run < 2; run += 1) {
      const sink = createKafkaSink({ brokers, topic, deadLetterTopic }, { logger: logger as never });
      await sink.open({ pipelineId: uniqueName('dl-reopen-pipeline') });
      await sink.close();
    }
    expect(warnings).toEqual([]);
  });
});
