import { randomUUID } from 'node:crypto';
import {
  type CommitPayload,
  type CommittedState,
  type PipelineIdentity,
  type SinkRecord,
  TidemarkError,
  type TransactionalSink,
} from '@tidemark/core';

/** The commit faults a target injects on request (see {@link SinkConformanceTarget.createSink}). */
export type SinkCommitFault = 'uncertain-committed' | 'uncertain-lost';

/**
 * One fresh place for a sink to write (a new topic, a new table), made by
 * {@link SinkConformanceOptions.setup} for every case.
 */
export interface SinkConformanceTarget {
  /**
   * A new unopened sink instance writing to this target. Instances of one target share it as
   * processes share a server: the kit opens several with one identity to test fencing.
   * With `commitFault`, the instance's first commit must fail with COMMIT_UNCERTAIN after
   * really committing (`uncertain-committed`) or without committing (`uncertain-lost`);
   * targets that cannot inject this set {@link SinkConformanceOptions.commitFaults} false.
   */
  createSink(options?: {
    readonly commitFault?: SinkCommitFault;
  }): TransactionalSink | Promise<TransactionalSink>;
  /**
   * The values (as UTF-8 text) of every record committed to the main output, in commit order,
   * as a reader that sees committed data only (read_committed, another database session) sees
   * them. `lastValue` is the value of the last record the kit committed: a reader that cannot
   * tell when it has read everything (a Kafka consumer) reads until it has seen it.
   */
  readCommittedValues(lastValue: string): Promise<readonly string[]>;
  /** Runs after the case, even a failed one (drop the table, delete the topic). */
  cleanup?(): Promise<void>;
}

/** What a sink plugin hands the sink conformance kit. */
export interface SinkConformanceOptions {
  /** Title of the vitest `describe` block. Default `sink conformance`. */
  readonly title?: string;
  /** Makes a fresh, empty target for one case. */
  setup(): SinkConformanceTarget | Promise<SinkConformanceTarget>;
  /** Whether `createSink` honours `commitFault`; false registers the uncertain-commit cases as skipped. */
  readonly commitFaults: boolean;
  /**
   * A record this sink can never write (e.g. a value that is not JSON for a JSON column). Given,
   * the kit checks `checkRecords` flags it, and only it, without I/O.
   */
  readonly poisonRecord?: SinkRecord;
  /** Timeout of each case. Default 60 s. */
  readonly caseTimeoutMs?: number;
}

/** One case of the sink conformance suite. */
export interface SinkConformanceCase {
  readonly name: string;
  /** False when the case does not apply to these options (registered as skipped). */
  readonly applies: (options: SinkConformanceOptions) => boolean;
  readonly run: (context: SinkCaseContext) => Promise<void>;
}

/** What a case works with: the target, a unique identity, record and payload builders. */
export class SinkCaseContext {
  readonly identity: PipelineIdentity;
  readonly target: SinkConformanceTarget;
  readonly options: SinkConformanceOptions;
  readonly #prefix = randomUUID().slice(0, 8);
  readonly #sinks: TransactionalSink[] = [];

  constructor(target: SinkConformanceTarget, options: SinkConformanceOptions) {
    this.target = target;
    this.options = options;
    this.identity = { pipelineId: `conformance-${this.#prefix}` };
  }

  /** A new sink instance of the target, closed when the case ends. */
  async sink(commitFault?: SinkCommitFault): Promise<TransactionalSink> {
    const sink = await this.target.createSink(commitFault === undefined ? {} : { commitFault });
    this.#sinks.push(sink);
    return sink;
  }

  /** Record number `n` of this case: value `{"id":"<case>-<n>"}`, position `n` of unit `u`. */
  record(n: number): SinkRecord {
    return {
      key: Buffer.from(`key-${n}`),
      value: Buffer.from(this.value(n)),
      headers: {},
      rowtime: 1_700_000_000_000 + n,
      provenance: { 'conformance.offset': n },
      position: { unit: 'u', next: n },
    };
  }

  value(n: number): string {
    return JSON.stringify({ id: this.id(n) });
  }

  id(n: number): string {
    return `${this.#prefix}-${n}`;
  }

  records(...numbers: number[]): SinkRecord[] {
    return numbers.map((n) => this.record(n));
  }

  /** The commit payload after record `n`: watermark `{ conformance: { u: n } }`, rowtime of `n`. */
  payload(n: number): CommitPayload {
    return { watermarks: { conformance: { u: n } }, rowtime: 1_700_000_000_000 + n };
  }

  /** Ids of the committed records, read until record `last` is seen. */
  async committedIds(last: number): Promise<string[]> {
    const values = await this.target.readCommittedValues(this.value(last));
    return values.map(idOfValue);
  }

  /** Begins, writes records `numbers`, commits with the payload of the last one. */
  async commitRecords(sink: TransactionalSink, ...numbers: number[]): Promise<void> {
    await sink.begin();
    await sink.write(this.records(...numbers));
    await sink.commit(this.payload(numbers.at(-1) ?? 0));
  }

  async closeAll(): Promise<void> {
    for (const sink of this.#sinks.splice(0)) await sink.close().catch(() => undefined);
  }
}

function idOfValue(value: string): string {
  try {
    const parsed = JSON.parse(value) as { id?: unknown };
    if (typeof parsed?.id === 'string') return parsed.id;
  } catch {
    // Not one of the kit's records: compared as it is.
  }
  return value;
}

function fail(message: string): never {
  throw new Error(`sink conformance: ${message}`);
}

function expectEqual(actual: unknown, expected: unknown, what: string): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) fail(`${what}: expected ${e}, got ${a}`);
}

function expectState(state: CommittedState, n: number | null, what: string): void {
  expectEqual(state.watermarks, n === null ? {} : { conformance: { u: n } }, `${what} (watermarks)`);
  expectEqual(state.rowtime, n === null ? null : 1_700_000_000_000 + n, `${what} (rowtime)`);
}

/** Awaits `call` and expects it to throw a TidemarkError with `code`; returns the error. */
async function expectCode(
  call: () => Promise<unknown>,
  code: TidemarkError['code'],
  what: string,
): Promise<TidemarkError> {
  let outcome: unknown;
  try {
    await call();
  } catch (error) {
    outcome = error;
  }
  if (outcome === undefined) fail(`${what}: expected ${code}, but the call succeeded`);
  if (!TidemarkError.hasCode(outcome, code)) {
    fail(
      `${what}: expected ${code}, got ${TidemarkError.isInstance(outcome) ? outcome.code : String(outcome)}`,
    );
  }
  return outcome;
}

async function expectIllegal(call: () => Promise<unknown>, what: string): Promise<void> {
  const error = await expectCode(call, 'ILLEGAL_STATE', what);
  if (error.retriable) fail(`${what}: ILLEGAL_STATE must not be retriable`);
}

/** The sink conformance cases, in the order they run. */
export function sinkConformanceCases(): readonly SinkConformanceCase[] {
  const always = () => true;
  return [
    {
      name: 'calls out of order throw a non-retriable ILLEGAL_STATE and change nothing',
      applies: always,
      async run(context) {
        const sink = await context.sink();
        await expectIllegal(() => sink.begin(), 'begin() before open()');
        await sink.open(context.identity);
        await expectIllegal(() => sink.open(context.identity), 'open() twice');
        await expectIllegal(() => sink.write(context.records(0)), 'write() before begin()');
        await expectIllegal(() => sink.commit(context.payload(0)), 'commit() before begin()');
        await expectIllegal(() => sink.abort(), 'abort() without a transaction');
        await sink.begin();
        await expectIllegal(() => sink.begin(), 'begin() inside a transaction');
        await sink.write(context.records(1));
        await sink.commit(context.payload(1));
        await expectIllegal(() => sink.write(context.records(2)), 'write() after commit()');
        await context.commitRecords(sink, 2);
        await sink.close();
        await sink.close();
        await expectIllegal(() => sink.begin(), 'begin() after close()');
        expectEqual(await context.committedIds(2), [context.id(1), context.id(2)], 'committed records');
      },
    },
    {
      name: 'commit stores records and watermark together; the next open returns the watermark',
      applies: always,
      async run(context) {
        const first = await context.sink();
        expectState(await first.open(context.identity), null, 'open() of a new pipeline');
        await context.commitRecords(first, 1, 2, 3);
        expectEqual(
          await context.committedIds(3),
          [context.id(1), context.id(2), context.id(3)],
          'committed records',
        );
        expectState(await first.readCommitted(context.identity), 3, 'readCommitted() after the commit');
        await first.close();
        const second = await context.sink();
        expectState(await second.open(context.identity), 3, 'open() after the commit');
      },
    },
    ...(['abort', 'crash'] as const).map(
      (ending): SinkConformanceCase => ({
        name:
          ending === 'abort'
            ? 'abort discards the transaction and keeps the previous watermark'
            : 'a transaction never committed stays invisible; the next open resolves it',
        applies: always,
        async run(context) {
          const sink = await context.sink();
          await sink.open(context.identity);
          await context.commitRecords(sink, 1);
          await sink.begin();
          await sink.write(context.records(2, 3));
          // A crash abandons the sink here, transaction open, as a killed process would.
          if (ending === 'abort') {
            await sink.abort();
            await sink.close();
          }
          const next = await context.sink();
          expectState(
            await next.open(context.identity),
            1,
            `open() after ${ending === 'abort' ? 'an abort' : 'a crash mid-transaction'}`,
          );
          await context.commitRecords(next, 4);
          expectEqual(await context.committedIds(4), [context.id(1), context.id(4)], 'committed records');
        },
      }),
    ),
    {
      name: 'open fences older instances: a zombie cannot commit',
      applies: always,
      async run(context) {
        const zombie = await context.sink();
        await zombie.open(context.identity);
        await zombie.begin();
        await zombie.write(context.records(1));
        const successor = await context.sink();
        expectState(await successor.open(context.identity), null, 'open() of the successor');
        await expectCode(() => zombie.commit(context.payload(1)), 'FENCED', 'commit() by a fenced instance');
        await context.commitRecords(successor, 2);
        expectEqual(await context.committedIds(2), [context.id(2)], 'committed records');
        const third = await context.sink();
        expectState(await third.open(context.identity), 2, 'open() after the successor committed');
      },
    },
    {
      name: 'open reads the watermark after fencing: a commit in flight is seen whole or not at all',
      applies: always,
      async run(context) {
        const older = await context.sink();
        await older.open(context.identity);
        await older.begin();
        await older.write(context.records(1));
        const committing = older.commit(context.payload(1)).then(
          () => true,
          () => false,
        );
        const newer = await context.sink();
        const state = await newer.open(context.identity);
        const reportedCommitted = await committing;
        await context.commitRecords(newer, 2);
        const ids = await context.committedIds(2);
        const landed = ids.includes(context.id(1));
        if (reportedCommitted && !landed) fail('a commit that succeeded is not visible');
        expectEqual(ids, landed ? [context.id(1), context.id(2)] : [context.id(2)], 'committed records');
        expectState(
          state,
          landed ? 1 : null,
          landed
            ? 'open() while the older instance committed: its records landed, so open must return its watermark'
            : 'open() while the older instance committed: its records did not land, so open must not return its watermark',
        );
      },
    },
    ...(['uncertain-committed', 'uncertain-lost'] as const).map(
      (fault): SinkConformanceCase => ({
        name: `after an uncertain commit (${fault === 'uncertain-committed' ? 'landed' : 'lost'}) only recover and close are legal; recover returns what committed`,
        applies: (options) => options.commitFaults,
        async run(context) {
          const sink = await context.sink(fault);
          await sink.open(context.identity);
          await sink.begin();
          await sink.write(context.records(1));
          await expectCode(() => sink.commit(context.payload(1)), 'COMMIT_UNCERTAIN', 'the injected commit');
          await expectIllegal(() => sink.abort(), 'abort() after an uncertain commit');
          await expectIllegal(() => sink.begin(), 'begin() after an uncertain commit');
          await expectIllegal(() => sink.write(context.records(2)), 'write() after an uncertain commit');
          const landed = fault === 'uncertain-committed';
          expectState(await sink.recover(), landed ? 1 : null, 'recover() after an uncertain commit');
          await context.commitRecords(sink, 3);
          expectEqual(
            await context.committedIds(3),
            landed ? [context.id(1), context.id(3)] : [context.id(3)],
            'committed records',
          );
          await sink.close();
          const next = await context.sink();
          expectState(await next.open(context.identity), 3, 'open() after recovering');
        },
      }),
    ),
    {
      name: 'checkRecords flags the records the sink can never write, without I/O',
      applies: (options) => options.poisonRecord !== undefined,
      async run(context) {
        const sink = await context.sink();
        if (!sink.checkRecords) fail('the options name a poisonRecord, but the sink has no checkRecords');
        const poison = context.options.poisonRecord!;
        // On an unopened sink: the check must not need a connection.
        const flagged = sink.checkRecords(context.records(1).concat([poison], context.records(2)));
        expectEqual([...flagged.keys()], [1], 'indexes flagged by checkRecords');
        const error = flagged.get(1);
        if (!TidemarkError.hasCode(error, 'POISON_RECORD'))
          fail('checkRecords must map to POISON_RECORD errors');
        expectEqual(sink.checkRecords(context.records(3, 4)).size, 0, 'checkRecords of good records');
      },
    },
  ];
}

/** Runs one case against a fresh target; closes every sink it opened and runs `cleanup`. */
export async function runSinkConformanceCase(
  options: SinkConformanceOptions,
  conformanceCase: SinkConformanceCase,
): Promise<void> {
  const target = await options.setup();
  const context = new SinkCaseContext(target, options);
  try {
    await conformanceCase.run(context);
  } finally {
    await context.closeAll();
    await target.cleanup?.();
  }
}
