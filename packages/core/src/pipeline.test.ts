import { describe, expect, it } from 'vitest';
import { BackOffError, FencedError, TidemarkError } from './errors.js';
import { Pipeline, type PipelineOptions } from './pipeline.js';
import type { TidemarkRecord } from './record.js';
import type { ReadOptions, SourceBatch } from './source.js';
import {
  abortsAfterFailedCommit,
  entries,
  FakeClock,
  FakeLog,
  FakeQueueBroker,
  FaultInjector,
  RedeliverFakeSource,
  recordId,
  SeekableFakeSource,
  seededRandom,
} from './test-support/fakes.js';
import { MemorySinkStore, MemoryTransactionalSink } from './testing/memory-sink.js';

/** One seekable source over a log of one partition, the fake sink, a fake clock. */
function setup(options: { records?: number; sealed?: boolean; rowtimes?: readonly number[] } = {}) {
  const clock = new FakeClock();
  const rowtimes = options.rowtimes;
  const list = rowtimes
    ? rowtimes.map((rowtime, index) => ({ id: `r-${index}`, rowtime }))
    : entries('r', options.records ?? 10);
  const log = new FakeLog({ p0: list });
  if (options.sealed ?? true) log.seal();
  const store = new MemorySinkStore(clock.now);
  const source = new SeekableFakeSource({ name: 'log', log, clock });
  const sink = new MemoryTransactionalSink({ store });
  const pipelineOptions = (extra: Partial<PipelineOptions> = {}): PipelineOptions => ({
    id: 'test',
    sources: [source],
    sink,
    now: clock.now,
    sleep: clock.sleep,
    retry: { initialBackoffMs: 10, maxBackoffMs: 100 },
    ...extra,
  });
  const transactionIds = () => store.transactions.map((transaction) => transaction.records.map(recordId));
  return { clock, log, store, source, sink, pipelineOptions, transactionIds };
}

/** The fake-clock time of every `begin` of `sink`, in order. */
function beginTimes(sink: MemoryTransactionalSink, clock: FakeClock): number[] {
  const begunAt: number[] = [];
  const begin = sink.begin.bind(sink);
  sink.begin = async () => {
    begunAt.push(clock.now());
    await begin();
  };
  return begunAt;
}

const ids = (prefix: string, from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => `${prefix}-${from + i}`);

describe('commit policy', () => {
  it('commits every maxRecords records, never more in one transaction', async () => {
    const { pipelineOptions, transactionIds } = setup({ records: 25 });
    const result = await new Pipeline(
      pipelineOptions({ commit: { maxRecords: 10 }, batch: { maxRecords: 7 } }),
    ).run();
    expect(result.reason).toBe('ended');
    expect(transactionIds().map((transaction) => transaction.length)).toEqual([10, 10, 5]);
  });

  it('commits when the transaction reaches maxBytes', async () => {
    // Ids r-0 … r-9 are 3 bytes each.
    const { pipelineOptions, transactionIds } = setup({ records: 10 });
    await new Pipeline(pipelineOptions({ commit: { maxBytes: 9 } })).run();
    expect(transactionIds()).toEqual([ids('r', 0, 3), ids('r', 3, 6), ids('r', 6, 9), ids('r', 9, 10)]);
  });

  it('commits when the transaction has been open maxWallMs', async () => {
    const { pipelineOptions, store, clock, sink, log } = setup({ records: 3, sealed: false });
    const begunAt = beginTimes(sink, clock);
    const pipeline = new Pipeline(pipelineOptions({ commit: { maxWallMs: 500 }, batch: { maxWaitMs: 40 } }));
    let appended = false;
    clock.onSleep = () => {
      // The first transaction after open commits once caught up; the second waits maxWallMs.
      if (store.transactions.length === 1 && !appended) {
        appended = true;
        log.append('p0', ...entries('s', 3));
      }
      if (store.transactions.length > 1) pipeline.stop();
    };
    await pipeline.run();
    expect(store.transactions).toHaveLength(2);
    const elapsed = store.state.committedAt! - begunAt[1]!;
    expect(elapsed).toBeGreaterThanOrEqual(500);
    expect(elapsed).toBeLessThan(540);
  });

  it('commits the first transaction after open as soon as a read returns less than a full batch', async () => {
    const { pipelineOptions, store, clock, sink } = setup({ records: 3, sealed: false });
    const begunAt = beginTimes(sink, clock);
    const pipeline = new Pipeline(
      pipelineOptions({ commit: { maxWallMs: 5_000 }, batch: { maxWaitMs: 40 } }),
    );
    clock.onSleep = () => {
      if (store.transactions.length > 0) pipeline.stop();
    };
    await pipeline.run();
    expect(store.transactions.map((transaction) => transaction.records.map(recordId))).toEqual([
      ids('r', 0, 3),
    ]);
    expect(store.state.committedAt! - begunAt[0]!).toBeLessThan(200);
  });

  it('commits right after a batch whose source requests it, even an empty one', async () => {
    const { pipelineOptions, source, transactionIds } = setup({ records: 7 });
    const read = source.read.bind(source);
    const script = ['ask', 'plain', 'empty-ask', 'plain'];
    source.read = async (options: ReadOptions): Promise<SourceBatch> => {
      const step = script.shift() ?? 'plain';
      if (step === 'empty-ask') return { records: [], commitRequested: true };
      const batch = await read(options);
      return step === 'ask' ? { ...batch, commitRequested: true } : batch;
    };
    await new Pipeline(
      pipelineOptions({ commit: { maxWallMs: 3_600_000, maxRecords: 1_000 }, batch: { maxRecords: 2 } }),
    ).run();
    expect(transactionIds()).toEqual([ids('r', 0, 2), ids('r', 2, 4), ids('r', 4, 7)]);
  });

  it('aligns transactions to rowtime spans', async () => {
    const { pipelineOptions, store } = setup({ rowtimes: [900, 999, 1000, 1999, 2000] });
    await new Pipeline(pipelineOptions({ commit: { rowtimeSpanMs: 1000 } })).run();
    expect(
      store.transactions.map((transaction) => transaction.records.map((record) => record.rowtime)),
    ).toEqual([[900, 999], [1000, 1999], [2000]]);
    expect(store.state.rowtime).toBe(2000);
  });

  it('starts a new transaction when a rowtime goes back to an earlier span', async () => {
    const { pipelineOptions, store } = setup({ rowtimes: [900, 1500, 950] });
    await new Pipeline(pipelineOptions({ commit: { rowtimeSpanMs: 1000 } })).run();
    expect(
      store.transactions.map((transaction) => transaction.records.map((record) => record.rowtime)),
    ).toEqual([[900], [1500], [950]]);
  });

  it('re-commits the unchanged watermark of an idle pipeline after idleRecommitMs', async () => {
    const { pipelineOptions, store, clock, source } = setup({ records: 3, sealed: false });
    const pipeline = new Pipeline(
      pipelineOptions({ commit: { maxWallMs: 100, idleRecommitMs: 5_000 }, batch: { maxWaitMs: 100 } }),
    );
    clock.onSleep = () => {
      if (store.transactions.length === 2) pipeline.stop();
    };
    await pipeline.run();
    const [first, second] = store.transactions;
    expect(first!.records).toHaveLength(3);
    expect(second!.records).toHaveLength(0);
    expect(second!.payload.watermarks).toEqual(first!.payload.watermarks);
    expect(second!.payload.rowtime).toBe(first!.payload.rowtime);
    const gap = second!.at - first!.at;
    expect(gap).toBeGreaterThanOrEqual(5_000);
    expect(gap).toBeLessThan(5_200);
    expect(source.acknowledged).toEqual([{ p0: 3 }]);
  });
});

describe('watermarks and start positions', () => {
  it('keeps one watermark per source', async () => {
    const clock = new FakeClock();
    const logA = new FakeLog({ p0: entries('a', 3) });
    const logB = new FakeLog({ p0: entries('b0', 5), p1: entries('b1', 2) });
    const broker = new FakeQueueBroker('q', entries('q', 4));
    for (const sealed of [logA, logB, broker]) sealed.seal();
    const store = new MemorySinkStore(clock.now);
    const result = await new Pipeline({
      id: 'many',
      sources: [
        new SeekableFakeSource({ name: 'a', log: logA, clock }),
        new SeekableFakeSource({ name: 'b', log: logB, clock }),
        new RedeliverFakeSource({ name: 'queue', broker, clock }),
      ],
      sink: new MemoryTransactionalSink({ store }),
      commit: { maxRecords: 2 },
      now: clock.now,
      sleep: clock.sleep,
    }).run();
    expect(result.reason).toBe('ended');
    expect(store.state.watermarks).toEqual({ a: { p0: 3 }, b: { p0: 5, p1: 2 }, queue: { q: 4 } });
    expect(store.records).toHaveLength(14);
    // Every commit carries every source's watermark, each moving on its own.
    for (const transaction of store.transactions) {
      for (const record of transaction.records) {
        const source = String(record.provenance['fake.id']).startsWith('q') ? 'queue' : recordId(record)[0]!;
        const unit = String(record.provenance['fake.unit']);
        const position = transaction.payload.watermarks[source]![unit] as number;
        expect(position).toBeGreaterThan(Number(record.provenance['fake.index']));
      }
    }
  });

  it('opens sources at null (their configured start) before anything was committed', async () => {
    const { pipelineOptions, source, store, log } = setup({ records: 6 });
    const started = new SeekableFakeSource({ name: 'log', log, clock: new FakeClock(), start: { p0: 4 } });
    await new Pipeline(pipelineOptions({ sources: [started] })).run();
    expect(started.opened).toEqual([null]);
    expect(store.records.map(recordId)).toEqual(['r-4', 'r-5']);
    expect(source.opened).toEqual([]);
  });

  it('opens sources at the committed watermark, which wins over the configured start', async () => {
    const { pipelineOptions, log, store, clock, sink } = setup({ records: 3, sealed: false });
    const first = new Pipeline(pipelineOptions({ commit: { maxWallMs: 50 } }));
    clock.onSleep = () => {
      if (store.transactions.length > 0) first.stop();
    };
    await first.run();
    expect(store.state.watermarks).toEqual({ log: { p0: 3 } });
    log.append('p0', ...entries('r', 5).slice(3));
    log.seal();
    clock.onSleep = undefined;
    const latest = new SeekableFakeSource({ name: 'log', log, clock, start: 'latest' });
    await new Pipeline(pipelineOptions({ sources: [latest], sink })).run();
    expect(latest.opened).toEqual([{ p0: 3 }]);
    expect(store.records.map(recordId)).toEqual(ids('r', 0, 5));
  });
});

describe('stop', () => {
  it('commits the open transaction on a graceful stop', async () => {
    const { pipelineOptions, store, sink } = setup({ records: 5, sealed: false });
    const pipeline = new Pipeline(
      pipelineOptions({ commit: { maxWallMs: 3_600_000 }, observer: { onWrite: () => pipeline.stop() } }),
    );
    const result = await pipeline.run();
    expect(result.reason).toBe('stopped');
    expect(result.status.state).toBe('stopped');
    expect(store.transactions.map((transaction) => transaction.records.map(recordId))).toEqual([
      ids('r', 0, 5),
    ]);
    expect(sink.calls).toEqual(['open', 'begin', 'write', 'commit', 'close']);
  });

  for (const onAbort of ['returns', 'rejects'] as const) {
    it(`stops during a blocked read (the read ${onAbort} on abort) and commits what was written`, async () => {
      const { pipelineOptions, store, source, sink } = setup({ records: 3, sealed: false });
      const read = source.read.bind(source);
      let blocked = false;
      source.read = async (options: ReadOptions): Promise<SourceBatch> => {
        const batch = await read({ ...options, maxWaitMs: 0 });
        if (batch.records.length > 0 || options.signal.aborted) return batch;
        blocked = true;
        await new Promise((resolve) => options.signal.addEventListener('abort', resolve, { once: true }));
        if (onAbort === 'rejects') throw new DOMException('aborted', 'AbortError');
        return { records: [] };
      };
      const pipeline = new Pipeline(pipelineOptions({ commit: { maxWallMs: 3_600_000 } }));
      const running = pipeline.run();
      while (!blocked) await new Promise((resolve) => setImmediate(resolve));
      expect(sink.recordsWritten).toBe(3);
      pipeline.stop();
      const result = await running;
      expect(result.reason).toBe('stopped');
      expect(store.transactions.map((transaction) => transaction.records.map(recordId))).toEqual([
        ids('r', 0, 3),
      ]);
      expect(sink.calls).not.toContain('abort');
    });
  }

  it('ends when bounded sources are drained', async () => {
    const { pipelineOptions, store, sink } = setup({ records: 4 });
    const result = await new Pipeline(pipelineOptions()).run();
    expect(result.reason).toBe('ended');
    expect(result.status.commits).toBe(1);
    expect(store.state.watermarks).toEqual({ log: { p0: 4 } });
    expect(sink.state).toBe('closed');
  });

  it('commits the watermark when the transform filters every record', async () => {
    const { pipelineOptions, store } = setup({ records: 6 });
    const result = await new Pipeline(
      pipelineOptions({ transform: () => null, commit: { maxRecords: 4 } }),
    ).run();
    expect(result.reason).toBe('ended');
    expect(store.records).toEqual([]);
    expect(store.transactions.map((transaction) => transaction.payload.watermarks)).toEqual([
      { log: { p0: 4 } },
      { log: { p0: 6 } },
    ]);
  });
});

describe('poison policy', () => {
  const poisoned = () => {
    const setupResult = setup({ records: 0 });
    setupResult.log.append('p0', { id: 'r-0', rowtime: 0 }, { id: 'r-1', rowtime: 1 });
    setupResult.log.append('p0', { id: 'r-2', rowtime: 2, poison: 'not JSON' }, { id: 'r-3', rowtime: 3 });
    return setupResult;
  };

  it("'fail' stops with POISON_RECORD naming the provenance, committing nothing past it", async () => {
    const { pipelineOptions, store, sink } = poisoned();
    const run = new Pipeline(pipelineOptions({ poison: 'fail', commit: { maxRecords: 2 } })).run();
    const error = await run.catch((thrown: unknown) => thrown);
    expect(TidemarkError.hasCode(error, 'POISON_RECORD')).toBe(true);
    expect((error as TidemarkError).message).toContain('"fake.index":2');
    expect((error as TidemarkError).details).toMatchObject({
      source: 'log',
      provenance: { 'fake.id': 'r-2' },
    });
    expect(store.records.map(recordId)).toEqual(['r-0', 'r-1']);
    expect(store.state.watermarks).toEqual({ log: { p0: 2 } });
    expect(sink.calls.slice(-2)).toEqual(['abort', 'close']);
  });

  it("'skip' advances the position and emits nothing for the record", async () => {
    const { pipelineOptions, store } = poisoned();
    await new Pipeline(pipelineOptions({ poison: 'skip' })).run();
    expect(store.records.map(recordId)).toEqual(['r-0', 'r-1', 'r-3']);
    expect(store.state.watermarks).toEqual({ log: { p0: 4 } });
  });

  it("'dead-letter' emits the record with route dead-letter in the same transaction", async () => {
    const { pipelineOptions, store } = poisoned();
    await new Pipeline(pipelineOptions({ poison: 'dead-letter' })).run();
    expect(store.transactions).toHaveLength(1);
    const records = store.transactions[0]!.records;
    expect(records.map((record) => [recordId(record), record.route ?? 'main'])).toEqual([
      ['r-0', 'main'],
      ['r-1', 'main'],
      ['r-2', 'dead-letter'],
      ['r-3', 'main'],
    ]);
    expect(records[2]!.headers['tidemark.source']).toBe('log');
    expect(records[2]!.headers['tidemark.error']).toMatch(/^not JSON \(source 'log'/);
  });

  it('treats a transform that throws as poison, but retries a retriable TidemarkError', async () => {
    const { pipelineOptions, store } = setup({ records: 4 });
    let timeouts = 0;
    const transform = (record: TidemarkRecord) => {
      if (recordId(record) === 'r-1') throw new Error('cannot parse');
      if (recordId(record) === 'r-2' && timeouts < 2) {
        timeouts += 1;
        throw new TidemarkError('TIMEOUT', 'lookup timed out');
      }
      return record;
    };
    const result = await new Pipeline(pipelineOptions({ transform, poison: 'dead-letter' })).run();
    expect(result.status.rewinds).toBe(2);
    expect(store.records.map((record) => `${recordId(record)}:${record.route ?? 'main'}`)).toEqual([
      'r-0:main',
      'r-1:dead-letter',
      'r-2:main',
      'r-3:main',
    ]);
  });

  it('promotes rowtimes by the rowtime rule and reports source progress through the observer', async () => {
    const { pipelineOptions, source, store } = setup({ records: 3 });
    Object.assign(source, { progress: async () => ({ done: 2, total: 3 }) });
    const progress: unknown[] = [];
    await new Pipeline(
      pipelineOptions({
        rowtime: { from: 'provenance', column: 'fake.index', format: 'epoch-s' },
        observer: { onProgress: (info) => progress.push(info) },
      }),
    ).run();
    expect(store.records.map((record) => record.rowtime)).toEqual([0, 1000, 2000]);
    expect(progress[0]).toEqual({ source: 'log', done: 2, total: 3 });
  });

  describe('records the sink can never write (checkRecords)', () => {
    const rejecting = () => {
      const context = setup({ records: 4 });
      const sink = new MemoryTransactionalSink({
        store: context.store,
        rejectRecord: (record) => (recordId(record) === 'r-2' ? 'value is not JSON' : undefined),
      });
      return {
        ...context,
        sink,
        options: (extra: Partial<PipelineOptions>) => context.pipelineOptions({ sink, ...extra }),
      };
    };

    it("'dead-letter' routes them to the dead-letter output in the same transaction", async () => {
      const { options, store } = rejecting();
      await new Pipeline(options({ poison: 'dead-letter' })).run();
      expect(store.transactions).toHaveLength(1);
      const records = store.transactions[0]!.records;
      expect(records.map((record) => `${recordId(record)}:${record.route ?? 'main'}`)).toEqual([
        'r-0:main',
        'r-1:main',
        'r-2:dead-letter',
        'r-3:main',
      ]);
      expect(records[2]!.headers).toMatchObject({
        'tidemark.error': expect.stringContaining('value is not JSON'),
        'tidemark.source': 'log',
        'tidemark.pipeline': 'test',
      });
    });

    it("'skip' drops them and commits the position past them", async () => {
      const { options, store } = rejecting();
      const poisoned: string[] = [];
      await new Pipeline(
        options({ poison: 'skip', observer: { onPoison: (info) => poisoned.push(info.error) } }),
      ).run();
      expect(store.records.map(recordId)).toEqual(['r-0', 'r-1', 'r-3']);
      expect(store.state.watermarks).toEqual({ log: { p0: 4 } });
      expect(poisoned).toEqual([expect.stringContaining('value is not JSON')]);
    });

    it("'fail' stops the pipeline before the transaction writes them", async () => {
      const { options, store } = rejecting();
      const error = await new Pipeline(options({ poison: 'fail' })).run().catch((thrown: unknown) => thrown);
      expect(TidemarkError.hasCode(error, 'POISON_RECORD')).toBe(true);
      expect(store.records).toEqual([]);
    });
  });

  it('refuses dead-letter with a sink that has no dead-letter output', () => {
    const { pipelineOptions, store } = setup();
    const sink = new MemoryTransactionalSink({ store, deadLetter: false });
    expect(() => new Pipeline(pipelineOptions({ sink, poison: 'dead-letter' }))).toThrow(/dead-letter/);
  });
});

describe('failures', () => {
  it('never aborts after an uncertain commit: it recovers and learns the outcome', async () => {
    const clock = new FakeClock();
    const faults = new FaultInjector(seededRandom(7), {
      rates: { 'sink.commit.uncertain.landed': 0.3, 'sink.commit.uncertain.lost': 0.3 },
    });
    const log = new FakeLog({ p0: entries('r', 60) });
    log.seal();
    const store = new MemorySinkStore(clock.now);
    const sink = new MemoryTransactionalSink({ store, faults });
    const result = await new Pipeline({
      id: 'uncertain',
      sources: [new SeekableFakeSource({ name: 'log', log, clock })],
      sink,
      commit: { maxRecords: 3 },
      retry: { maxConsecutiveFailures: 50 },
      now: clock.now,
      sleep: clock.sleep,
    }).run();
    expect(result.reason).toBe('ended');
    expect(faults.counts['sink.commit.uncertain.landed']).toBeGreaterThan(0);
    expect(faults.counts['sink.commit.uncertain.lost']).toBeGreaterThan(0);
    sink.calls.forEach((call, index) => {
      if (call === 'commit:uncertain') expect(sink.calls[index + 1]).toBe('recover');
    });
    expect(sink.calls).not.toContain('abort');
    expect(abortsAfterFailedCommit(sink.calls)).toBe(0);
    expect(store.records.map(recordId)).toEqual(ids('r', 0, 60));
  });

  it('rewinds to the committed watermark when acknowledge fails after a commit, and acknowledges again', async () => {
    const clock = new FakeClock();
    const broker = new FakeQueueBroker('q', entries('q', 5));
    broker.seal();
    const faults = new FaultInjector(() => 0, { rates: { 'source.acknowledge': 1 }, limit: 1 });
    const queue = new RedeliverFakeSource({ name: 'queue', broker, clock, faults });
    const store = new MemorySinkStore(clock.now);
    const result = await new Pipeline({
      id: 'ack',
      sources: [queue],
      sink: new MemoryTransactionalSink({ store }),
      now: clock.now,
      sleep: clock.sleep,
    }).run();
    expect(result.reason).toBe('ended');
    expect(result.status.rewinds).toBe(1);
    expect(faults.counts['source.acknowledge']).toBe(1);
    expect(store.records.map(recordId)).toEqual(ids('q', 0, 5));
    expect(queue.acknowledged).toEqual([{ q: 5 }]);
    expect(broker.outstanding).toBe(0);
  });

  it('skips redeliveries the committed watermark covers after a crash between commit and acknowledge', async () => {
    const clock = new FakeClock();
    const broker = new FakeQueueBroker('q', entries('q', 6));
    broker.seal();
    const store = new MemorySinkStore(clock.now);
    const crash = new FaultInjector(() => 0, { rates: { 'source.acknowledge': 1 }, crashRate: 1, limit: 1 });
    const options = (faults?: FaultInjector): PipelineOptions => ({
      id: 'redeliver',
      sources: [new RedeliverFakeSource({ name: 'queue', broker, clock, ...(faults && { faults }) })],
      sink: new MemoryTransactionalSink({ store }),
      commit: { maxRecords: 4 },
      now: clock.now,
      sleep: clock.sleep,
    });
    await expect(new Pipeline(options(crash)).run()).rejects.toMatchObject({ code: 'CONNECTION_FAILED' });
    expect(store.state.watermarks).toEqual({ queue: { q: 4 } });
    expect(broker.outstanding).toBe(6);
    const restarted = options();
    await new Pipeline(restarted).run();
    expect((restarted.sources[0] as RedeliverFakeSource).skipped).toBe(4);
    expect(store.records.map(recordId)).toEqual(ids('q', 0, 6));
    expect(broker.outstanding).toBe(0);
  });

  it('closes half-opened sources when open fails midway, then opens everything again', async () => {
    const clock = new FakeClock();
    const log = new FakeLog({ p0: entries('r', 2) });
    log.seal();
    const first = new SeekableFakeSource({ name: 'first', log, clock });
    const second = new SeekableFakeSource({
      name: 'second',
      log,
      clock,
      faults: new FaultInjector(() => 0, { rates: { 'source.open': 1 }, limit: 1 }),
    });
    const closes = { first: 0, second: 0 };
    for (const [name, source] of [
      ['first', first],
      ['second', second],
    ] as const) {
      const close = source.close.bind(source);
      source.close = async () => {
        closes[name] += 1;
        await close();
      };
    }
    const store = new MemorySinkStore(clock.now);
    const sink = new MemoryTransactionalSink({ store });
    const result = await new Pipeline({
      id: 'open',
      sources: [first, second],
      sink,
      now: clock.now,
      sleep: clock.sleep,
    }).run();
    expect(result.reason).toBe('ended');
    expect(first.opened).toEqual([null, null]);
    expect(second.opened).toEqual([null, null]);
    expect(sink.calls.slice(0, 3)).toEqual(['open', 'close', 'open']);
    expect(closes).toEqual({ first: 2, second: 2 });
    expect(store.state.watermarks).toEqual({ first: { p0: 2 }, second: { p0: 2 } });
  });

  it('throws RETRIES_EXHAUSTED with the cause once the retry budget is spent', async () => {
    const { pipelineOptions, source, sink } = setup();
    const faults = new FaultInjector(() => 0, { rates: { 'source.read': 1 } });
    const failing = new SeekableFakeSource({
      name: 'log',
      log: new FakeLog({ p0: [] }),
      clock: new FakeClock(),
      faults,
    });
    const pipeline = new Pipeline(
      pipelineOptions({ sources: [failing], retry: { maxConsecutiveFailures: 3 } }),
    );
    const error = await pipeline.run().catch((thrown: unknown) => thrown);
    expect(TidemarkError.hasCode(error, 'RETRIES_EXHAUSTED')).toBe(true);
    expect((error as TidemarkError).retriable).toBe(false);
    expect(TidemarkError.hasCode((error as TidemarkError).cause, 'CONNECTION_FAILED')).toBe(true);
    expect(faults.counts['source.read']).toBe(4);
    expect(pipeline.status().state).toBe('failed');
    expect(source.opened).toEqual([]);
    expect(sink.state).toBe('closed');
  });

  it('stops at once after abort on FENCED: a newer instance took over', async () => {
    const { pipelineOptions, store, sink } = setup({ records: 6 });
    const pipeline = new Pipeline(
      pipelineOptions({
        commit: { maxRecords: 2 },
        observer: {
          onCommit: () => {
            // A second instance opens the same sink identity: this one is now a zombie.
            if (store.transactions.length === 1)
              void new MemoryTransactionalSink({ store }).open({ pipelineId: 'test' });
          },
        },
      }),
    );
    await expect(pipeline.run()).rejects.toBeInstanceOf(FencedError);
    expect(store.records.map(recordId)).toEqual(['r-0', 'r-1']);
    expect(sink.calls).toEqual(['open', 'begin', 'write', 'commit', 'begin:failed', 'abort', 'close']);
  });

  it('stops at once after abort on CONFIG_INVALID from a source', async () => {
    const { pipelineOptions, source, store, sink } = setup({ records: 6, sealed: false });
    const read = source.read.bind(source);
    let reads = 0;
    source.read = async (options) => {
      reads += 1;
      if (reads === 2) throw new TidemarkError('CONFIG_INVALID', 'topic does not exist');
      return read(options);
    };
    // Full batches: the first transaction stays open (a short one would commit, caught up).
    await expect(new Pipeline(pipelineOptions({ batch: { maxRecords: 3 } })).run()).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
    });
    expect(reads).toBe(2);
    expect(store.transactions).toEqual([]);
    expect(sink.calls).toEqual(['open', 'begin', 'write', 'abort', 'close']);
  });

  it('pauses on BackOffError without rewinding', async () => {
    const { pipelineOptions, source, clock, store } = setup({ records: 3 });
    const read = source.read.bind(source);
    let backedOff = false;
    source.read = async (options) => {
      if (!backedOff) {
        backedOff = true;
        throw new BackOffError(2_000);
      }
      return read(options);
    };
    const before = clock.now();
    const result = await new Pipeline(pipelineOptions()).run();
    expect(result.status.rewinds).toBe(0);
    expect(clock.now() - before).toBeGreaterThanOrEqual(2_000);
    expect(store.records.map(recordId)).toEqual(ids('r', 0, 3));
  });
});

describe('backpressure', () => {
  it('never holds more than batch.maxRecords read but not written; reading pauses during writes', async () => {
    const { pipelineOptions, source, sink, store } = setup({ records: 5_000, sealed: false });
    let read = 0;
    let written = 0;
    let maxInFlight = 0;
    let writing = false;
    let readsDuringWrite = 0;
    const sourceRead = source.read.bind(source);
    source.read = async (options) => {
      if (writing) readsDuringWrite += 1;
      const batch = await sourceRead(options);
      read += batch.records.length;
      maxInFlight = Math.max(maxInFlight, read - written);
      return batch;
    };
    const sinkWrite = sink.write.bind(sink);
    sink.write = async (records) => {
      writing = true;
      for (let tick = 0; tick < 3; tick += 1) await new Promise((resolve) => setImmediate(resolve));
      await sinkWrite(records);
      written += records.length;
      writing = false;
    };
    const pipeline = new Pipeline(
      pipelineOptions({
        batch: { maxRecords: 50 },
        commit: { maxRecords: 1_000 },
        observer: { onCommit: () => (store.transactions.length >= 3 ? pipeline.stop() : undefined) },
      }),
    );
    await pipeline.run();
    expect(store.records.length).toBeGreaterThanOrEqual(3_000);
    expect(maxInFlight).toBe(50);
    expect(readsDuringWrite).toBe(0);
  });
});
