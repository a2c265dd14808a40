import { createMemorySink } from '@tidemark/core/testing';
import { describe, expect, it } from 'vitest';
import { assertContiguous, assertExactlyOnce, assertNoDuplicates } from './assertions.js';
import { type ConformanceCase, runConformanceCase, sourceConformanceCases } from './cases.js';
import { describeSourceConformance } from './conformance.js';
import type { SourceConformanceOptions } from './harness.js';
import {
  idOfMemoryRecord,
  type LogBug,
  MemoryLog,
  MemoryQueue,
  memoryLogConnector,
  memoryQueueConnector,
  type QueueBug,
} from './memory-sources.fixture.js';

const logs = new Map<string, MemoryLog>();
const queues = new Map<string, MemoryQueue>();
const logConnector = memoryLogConnector(logs);
const queueConnector = memoryQueueConnector(queues);

function logOptions(bug?: LogBug): SourceConformanceOptions {
  let name = '';
  return {
    connector: logConnector,
    setup: () => {
      name = `log-${Math.random()}`;
      logs.set(name, new MemoryLog());
    },
    cleanup: () => logs.delete(name),
    config: () => (bug ? { log: name, bug } : { log: name }),
    produce: async (count) => logs.get(name)!.append(count),
    idOf: idOfMemoryRecord,
    badConfig: { log: 42, unknownField: true },
    quietMs: 30,
    settleMs: 300,
    readTimeoutMs: 2_000,
  };
}

function queueOptions(bug?: QueueBug): SourceConformanceOptions {
  let name = '';
  return {
    connector: queueConnector,
    setup: () => {
      name = `queue-${Math.random()}`;
      queues.set(name, new MemoryQueue());
    },
    cleanup: () => queues.delete(name),
    config: () => (bug ? { log: name, bug } : { log: name }),
    produce: async (count) => queues.get(name)!.append(count),
    idOf: idOfMemoryRecord,
    badConfig: {},
    quietMs: 30,
    settleMs: 300,
    readTimeoutMs: 2_000,
  };
}

describeSourceConformance(logOptions());
describeSourceConformance(queueOptions());

function caseNamed(options: SourceConformanceOptions, start: string): ConformanceCase {
  const found = sourceConformanceCases(options).find((candidate) => candidate.name.startsWith(start));
  if (!found) throw new Error(`no case ${start}`);
  return found;
}

describe('the kit catches broken sources', () => {
  it('a seek that resumes one record early (duplicates)', async () => {
    const options = logOptions('seek-off-by-one');
    await expect(runConformanceCase(options, caseNamed(options, 'seek to a watermark'))).rejects.toThrow(
      /after seek to cut \d+: (expected no more records|ids: \d+ duplicated)/,
    );
    await expect(runConformanceCase(options, caseNamed(options, 'a new instance opened'))).rejects.toThrow(
      /duplicated id|not forward/,
    );
  });

  it('an open that ignores the committed watermark', async () => {
    const options = logOptions('open-ignores-watermark');
    await expect(runConformanceCase(options, caseNamed(options, 'a new instance opened'))).rejects.toThrow(
      /not forward/,
    );
    // A crash after the first commit: the new instance starts over, re-reading committed records.
    await expect(runConformanceCase(options, caseNamed(options, 'crash after step 5'))).rejects.toThrow(
      /record "record-0": position of unit "a" moved from \d+ to 1, not forward/,
    );
  });

  it('a record missing a provenance column, or carrying an undeclared one', async () => {
    const missing = logOptions('missing-provenance');
    await expect(runConformanceCase(missing, caseNamed(missing, 'provenance'))).rejects.toThrow(
      /memory.index is missing/,
    );
    const extra = logOptions('extra-provenance');
    await expect(runConformanceCase(extra, caseNamed(extra, 'provenance'))).rejects.toThrow(
      /memory.extra is not declared/,
    );
  });

  it('a position that does not move forward', async () => {
    const options = logOptions('position-stands-still');
    await expect(
      runConformanceCase(options, caseNamed(options, 'watermarks only move forward')),
    ).rejects.toThrow(/not forward/);
  });

  it('a timer left running after close', async () => {
    const options = logOptions('leak-timer');
    await expect(runConformanceCase(options, caseNamed(options, 'close releases'))).rejects.toThrow(
      // The leaked interval must be named; on a loaded machine a short-lived timer may be listed too.
      /handles still open 300 ms after close\(\): \d+ handle\(s\): .*setInterval\(1000 ms\) created at .*memory-sources\.fixture\.ts/,
    );
  });

  it('a redelivering source that acknowledges on read (loses records on a crash)', async () => {
    const options = queueOptions('ack-on-read');
    await expect(runConformanceCase(options, caseNamed(options, 'crash after step 3'))).rejects.toThrow(
      /missing/,
    );
  });

  it('a redelivering source that does not skip redeliveries of committed messages', async () => {
    const options = queueOptions('no-skip-committed');
    // The redelivered, already committed message shows up behind the committed watermark.
    await expect(runConformanceCase(options, caseNamed(options, 'crash after step 4'))).rejects.toThrow(
      /record "message-1": position of unit "queue" moved from \d+ to 1, not forward/,
    );
  });

  it('a config schema that accepts the bad config', async () => {
    const options = { ...logOptions(), badConfig: { log: 'fine' } };
    await expect(runConformanceCase(options, caseNamed(options, 'rejects a bad config'))).rejects.toThrow(
      /was accepted/,
    );
  });

  it('seek cases are replaced by redelivery cases for redeliver sources', () => {
    const names = (options: SourceConformanceOptions) =>
      sourceConformanceCases(options)
        .filter((candidate) => candidate.applies(options.connector.capabilities))
        .map((candidate) => candidate.name);
    expect(names(logOptions()).some((name) => name.startsWith('seek to'))).toBe(true);
    expect(names(logOptions()).some((name) => name.startsWith('redelivery'))).toBe(false);
    expect(names(queueOptions()).some((name) => name.startsWith('seek to'))).toBe(false);
    expect(names(queueOptions()).filter((name) => name.startsWith('redelivery'))).toHaveLength(2);
  });
});

describe('regression helpers', () => {
  it('assertNoDuplicates names the duplicated ids with their counts', () => {
    expect(() => assertNoDuplicates(['a', 'b', 'a', 'c', 'b', 'a'])).toThrow(
      '2 duplicated id(s) among 6: "a" ×3, "b" ×2',
    );
    expect(() => assertNoDuplicates([1, 2, 3])).not.toThrow();
  });

  it('assertContiguous names the first gap and step back', () => {
    expect(() => assertContiguous(['order-1', 'order-2', 'order-5', 'order-6'])).toThrow(
      'gap after 2: missing 3..4 (index 2)',
    );
    expect(() => assertContiguous([1n, 2n, 2n])).toThrow('2 follows 2 (index 2): duplicate or step back');
    expect(() => assertContiguous(['7', '8'], { start: 1 })).toThrow('starts at 7, expected 1');
    expect(() => assertContiguous(['x-0', 'x-1', 'x-2'], { start: 0 })).not.toThrow();
  });

  it('assertExactlyOnce lists missing and unexpected ids', () => {
    expect(() => assertExactlyOnce(['1', '2', '9'], ['1', '2', '3'])).toThrow(
      '1 missing: "3"; 1 unexpected: "9"',
    );
    expect(() => assertExactlyOnce(['2', '1'], ['1', '2'])).not.toThrow();
  });
});

describe('memory sink', () => {
  it('enforces the sink state machine and commits data with watermarks atomically', async () => {
    const sink = createMemorySink({
      commitFault: (attempt) => (attempt === 2 ? 'uncertain-lost' : undefined),
    });
    await expect(sink.begin()).rejects.toThrow(/not allowed in state 'closed'/);
    await sink.open({ pipelineId: 'p' });
    await sink.begin();
    await sink.write([
      { key: null, value: null, headers: {}, rowtime: 1, provenance: {}, position: { unit: 'u', next: 1 } },
    ]);
    await sink.commit({ watermarks: { s: { u: 1 } }, rowtime: 1 });
    await sink.begin();
    await sink.write([
      { key: null, value: null, headers: {}, rowtime: 2, provenance: {}, position: { unit: 'u', next: 2 } },
    ]);
    await expect(sink.commit({ watermarks: { s: { u: 2 } }, rowtime: 2 })).rejects.toMatchObject({
      code: 'COMMIT_UNCERTAIN',
    });
    await expect(sink.abort()).rejects.toThrow(/not allowed in state 'uncertain'/);
    expect((await sink.recover()).watermarks).toEqual({ s: { u: 1 } });
    expect(sink.committedRecords).toHaveLength(1);
  });
});
