/**
 * In-memory fakes for testing the pipeline runtime: a seekable source, a redeliver-style
 * source, a fault injector that can fail every step, a fake clock and a seeded PRNG. The sink
 * is the one memory sink of `../testing/memory-sink.ts` (also the kit's), driven with these
 * faults. Test support only: not exported.
 *
 * Over 400 lines on purpose: the two source fakes and the fault injector they share model the
 * two replay modes end to end.
 *
 * Each fake keeps its durable state in a separate store object (a log, a queue broker, a
 * sink store) so that a test can throw a pipeline away and start a new one, with new clients,
 * on the same data: that is a process restart.
 */
import { TidemarkError } from '../errors.js';
import type { ProvenanceColumn, TidemarkRecord } from '../record.js';
import type { ReadOptions, Source, SourceBatch, SourceCapabilities } from '../source.js';
import type { Watermark } from '../watermark.js';

/** A PRNG returning floats in [0, 1). */
export type Random = () => number;

/** mulberry32: small, fast, seeded; the same seed gives the same run. */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in [min, max]. */
export function randomInt(random: Random, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

/** A clock that only moves when something sleeps on it: runs take no wall time. */
export class FakeClock {
  #now: number;

  constructor(start = 1_000_000) {
    this.#now = start;
  }

  readonly now = (): number => this.#now;

  advance(ms: number): void {
    this.#now += ms;
  }

  /** Called on every sleep, after the clock moved: lets a test feed sources or stop a pipeline. */
  onSleep: (() => void) | undefined;

  /** Advances the clock by `ms` (unless already aborted) and yields to other tasks. */
  readonly sleep = async (ms: number, signal?: AbortSignal): Promise<void> => {
    if (!signal?.aborted) this.#now += ms;
    this.onSleep?.();
    await new Promise<void>((resolve) => setImmediate(resolve));
  };
}

/** Every step of the protocol where the injector can fail. */
export const FAULT_POINTS = [
  'source.open',
  'source.read',
  'source.seek',
  'source.acknowledge',
  'transform',
  'sink.open',
  'sink.begin',
  'sink.write',
  'sink.write.partial',
  'sink.commit',
  'sink.commit.uncertain.landed',
  'sink.commit.uncertain.lost',
  'sink.abort',
  'sink.recover',
] as const;

export type FaultPoint = (typeof FAULT_POINTS)[number];

export interface FaultInjectorOptions {
  /** Probability that a fault fires each time a point is reached. */
  readonly rates: Partial<Record<FaultPoint, number>>;
  /**
   * Probability that a fired fault is not retriable (the pipeline stops: a crash, from the
   * test's point of view, after which it starts a new pipeline). Default 0.
   */
  readonly crashRate?: number;
  /** Stop injecting after this many faults. Default unlimited. */
  readonly limit?: number;
}

/** Decides, from a seeded PRNG, where faults fire; counts every fault it injects. */
export class FaultInjector {
  readonly counts: Record<FaultPoint, number> = Object.fromEntries(
    FAULT_POINTS.map((point) => [point, 0]),
  ) as Record<FaultPoint, number>;
  /** When false, nothing fires (to let a run drain after its chaos phase). */
  enabled = true;
  readonly #random: Random;
  readonly #options: FaultInjectorOptions;

  constructor(random: Random, options: FaultInjectorOptions) {
    this.#random = random;
    this.#options = options;
  }

  /** Faults injected so far, all points together. */
  get total(): number {
    return Object.values(this.counts).reduce((sum, count) => sum + count, 0);
  }

  /** True (and counted) when a fault fires at `point` now. */
  fires(point: FaultPoint): boolean {
    if (!this.enabled || this.total >= (this.#options.limit ?? Number.POSITIVE_INFINITY)) return false;
    const rate = this.#options.rates[point] ?? 0;
    if (rate <= 0 || this.#random() >= rate) return false;
    this.counts[point] += 1;
    return true;
  }

  /** Throws an injected failure when a fault fires at `point`: retriable unless it is a crash. */
  maybeThrow(point: FaultPoint): void {
    if (!this.fires(point)) return;
    throw this.error(point);
  }

  /** A fair coin from the same seeded PRNG. */
  coin(): boolean {
    return this.#random() < 0.5;
  }

  /** The error an injected fault at `point` throws. */
  error(point: FaultPoint): TidemarkError {
    const crash = this.#random() < (this.#options.crashRate ?? 0);
    return new TidemarkError('CONNECTION_FAILED', `injected fault at ${point}${crash ? ' (crash)' : ''}`, {
      retriable: !crash,
      details: { injected: point },
    });
  }
}

const NO_FAULTS = new FaultInjector(() => 1, { rates: {} });

/** One input record of a fake source. */
export interface FakeEntry {
  /** Unique across the test: what the exactly-once assertions compare. */
  readonly id: string;
  readonly rowtime: number;
  /** Marks the record as one the source could not decode. */
  readonly poison?: string;
}

/** Provenance columns of the fake sources. */
export const FAKE_PROVENANCE: readonly ProvenanceColumn[] = [
  { name: 'fake.unit', type: 'string', description: 'Unit of order (partition or queue).' },
  { name: 'fake.index', type: 'integer', description: 'Index of the record within its unit.' },
  { name: 'fake.id', type: 'string', description: 'Unique id of the record.' },
];

function toRecord(unit: string, index: number, entry: FakeEntry): TidemarkRecord {
  const record: TidemarkRecord = {
    key: null,
    value: new TextEncoder().encode(entry.id),
    headers: {},
    rowtime: entry.rowtime,
    provenance: { 'fake.unit': unit, 'fake.index': index, 'fake.id': entry.id },
    position: { unit, next: index + 1 },
  };
  if (entry.poison !== undefined) record.poison = entry.poison;
  return record;
}

/** The id a fake source put on a record. */
export function recordId(record: TidemarkRecord): string {
  return String(record.provenance['fake.id']);
}

/** The unit a fake source put on a record. */
export function recordUnit(record: TidemarkRecord): string {
  return String(record.provenance['fake.unit']);
}

/** Builds `count` entries `<prefix>-0` … with rowtimes `rowtime(i)`. */
export function entries(
  prefix: string,
  count: number,
  rowtime: (index: number) => number = (i) => i,
): FakeEntry[] {
  return Array.from({ length: count }, (_, index) => ({ id: `${prefix}-${index}`, rowtime: rowtime(index) }));
}

function notOpen(name: string, operation: string): TidemarkError {
  return new TidemarkError('ILLEGAL_STATE', `source ${name}: ${operation}() before open()`);
}

/** Durable data of a seekable source: partitions of records, like a Kafka topic or a file set. */
export class FakeLog {
  readonly units = new Map<string, FakeEntry[]>();
  /** Sealed: nothing more will be appended; a bounded source ends once it read everything. */
  sealed = false;

  constructor(units: Record<string, readonly FakeEntry[]> = {}) {
    for (const [unit, list] of Object.entries(units)) this.units.set(unit, [...list]);
  }

  append(unit: string, ...more: FakeEntry[]): void {
    const list = this.units.get(unit) ?? [];
    list.push(...more);
    this.units.set(unit, list);
  }

  seal(): void {
    this.sealed = true;
  }
}

export interface SeekableFakeSourceOptions {
  readonly name: string;
  readonly log: FakeLog;
  readonly clock: FakeClock;
  /** Where units without a committed position start. Default 'earliest'. */
  readonly start?: 'earliest' | 'latest' | Readonly<Record<string, number>>;
  /** Ends once the log is sealed and read to its end. Default true. */
  readonly bounded?: boolean;
  readonly faults?: FaultInjector;
}

/**
 * A source replayable by position (Kafka-like): units are partitions, a position is the index
 * of the next record. Checks the runtime's side of the contract: no read before open, no
 * acknowledged watermark that moves backwards.
 */
export class SeekableFakeSource implements Source {
  readonly name: string;
  readonly provenance = FAKE_PROVENANCE;
  readonly capabilities: SourceCapabilities;
  /** The watermark of every `open` call, in order. */
  readonly opened: (Watermark | null)[] = [];
  /** Every acknowledged watermark, in order. */
  readonly acknowledged: Watermark[] = [];
  /** Records returned by `read`, all reads together. */
  recordsRead = 0;
  /** Open connections: must be 0 after the pipeline finished, whatever happened. */
  handles = 0;
  readonly #options: SeekableFakeSourceOptions;
  readonly #faults: FaultInjector;
  #cursor: Map<string, number> | null = null;
  #nextUnit = 0;

  constructor(options: SeekableFakeSourceOptions) {
    this.name = options.name;
    this.#options = options;
    this.#faults = options.faults ?? NO_FAULTS;
    this.capabilities = { replay: 'seek', exactlyOnce: true, bounded: options.bounded ?? true };
  }

  async open(watermark: Watermark | null): Promise<void> {
    this.opened.push(watermark);
    this.handles += 1;
    this.#faults.maybeThrow('source.open');
    this.#position(watermark);
  }

  async read(options: ReadOptions): Promise<SourceBatch> {
    const cursor = this.#cursor;
    if (!cursor) throw notOpen(this.name, 'read');
    this.#faults.maybeThrow('source.read');
    const units = [...this.#options.log.units.keys()];
    const records: TidemarkRecord[] = [];
    let bytes = 0;
    let progressed = true;
    while (progressed && records.length < options.maxRecords && bytes < options.maxBytes) {
      progressed = false;
      for (
        let step = 0;
        step < units.length && records.length < options.maxRecords && bytes < options.maxBytes;
        step += 1
      ) {
        const unit = units[(this.#nextUnit + step) % units.length]!;
        const index = cursor.get(unit) ?? this.#startOf(unit);
        const entry = this.#options.log.units.get(unit)?.[index];
        if (!entry) continue;
        const record = toRecord(unit, index, entry);
        records.push(record);
        bytes += record.value?.byteLength ?? 0;
        cursor.set(unit, index + 1);
        progressed = true;
      }
      this.#nextUnit += 1;
    }
    this.recordsRead += records.length;
    if (records.length > 0) return { records };
    if (this.capabilities.bounded && this.#options.log.sealed) return { records, end: true };
    await this.#options.clock.sleep(options.maxWaitMs, options.signal);
    return { records };
  }

  async seek(watermark: Watermark | null): Promise<void> {
    if (!this.#cursor) throw notOpen(this.name, 'seek');
    this.#faults.maybeThrow('source.seek');
    this.#position(watermark);
  }

  async acknowledge(watermark: Watermark): Promise<void> {
    if (!this.#cursor) throw notOpen(this.name, 'acknowledge');
    this.#faults.maybeThrow('source.acknowledge');
    const previous = this.acknowledged.at(-1);
    for (const [unit, position] of Object.entries(previous ?? {})) {
      if (
        (watermark[unit] as number | undefined) === undefined ||
        (watermark[unit] as number) < (position as number)
      ) {
        throw new TidemarkError(
          'WATERMARK_INVALID',
          `source ${this.name}: acknowledged watermark moved backwards`,
        );
      }
    }
    this.acknowledged.push(watermark);
  }

  async close(): Promise<void> {
    this.#cursor = null;
    this.handles = 0;
  }

  /** The configured start of `unit`: used when no committed position exists. */
  #startOf(unit: string): number {
    const start = this.#options.start ?? 'earliest';
    if (start === 'earliest') return 0;
    if (start === 'latest') return this.#options.log.units.get(unit)?.length ?? 0;
    return start[unit] ?? 0;
  }

  #position(watermark: Watermark | null): void {
    const cursor = new Map<string, number>();
    for (const unit of this.#options.log.units.keys()) {
      const committed = watermark?.[unit];
      cursor.set(unit, typeof committed === 'number' ? committed : this.#startOf(unit));
    }
    this.#cursor = cursor;
  }
}

interface QueueMessage {
  readonly sequence: number;
  readonly entry: FakeEntry;
  state: 'ready' | 'unacked' | 'acked';
  /** Consumer session holding it while unacked. */
  session: number;
  deliveries: number;
}

/**
 * A broker queue with acknowledgements (AMQP classic queue, MQTT persistent session): a
 * message delivered and not acknowledged goes back to the queue, in its place, when its
 * consumer releases it or disconnects. Messages carry a sequence number stamped at publish.
 */
export class FakeQueueBroker {
  readonly queue: string;
  /** Sealed: nothing more will be published. */
  sealed = false;
  readonly #messages: QueueMessage[] = [];
  #sessions = 0;

  constructor(queue: string, initial: readonly FakeEntry[] = []) {
    this.queue = queue;
    this.publish(...initial);
  }

  publish(...more: FakeEntry[]): void {
    for (const entry of more) {
      this.#messages.push({
        sequence: this.#messages.length,
        entry,
        state: 'ready',
        session: 0,
        deliveries: 0,
      });
    }
  }

  seal(): void {
    this.sealed = true;
  }

  connect(): number {
    this.#sessions += 1;
    return this.#sessions;
  }

  /** Returns the unacknowledged messages of `session` to the queue. */
  release(session: number): void {
    for (const message of this.#messages) {
      if (message.state === 'unacked' && message.session === session) message.state = 'ready';
    }
  }

  /** Delivers up to `max` ready messages, in queue order, to `session`. */
  deliver(session: number, max: number): { sequence: number; entry: FakeEntry; redelivered: boolean }[] {
    const delivered = [];
    for (const message of this.#messages) {
      if (delivered.length >= max) break;
      if (message.state !== 'ready') continue;
      message.state = 'unacked';
      message.session = session;
      message.deliveries += 1;
      delivered.push({
        sequence: message.sequence,
        entry: message.entry,
        redelivered: message.deliveries > 1,
      });
    }
    return delivered;
  }

  /** Acknowledges the messages of `session` with a sequence below `below`. */
  acknowledge(session: number, below: number): void {
    for (const message of this.#messages) {
      if (message.state === 'unacked' && message.session === session && message.sequence < below) {
        message.state = 'acked';
      }
    }
  }

  /** True when `session` will never be delivered anything more. */
  drainedFor(session: number): boolean {
    return (
      this.sealed &&
      this.#messages.every(
        (message) =>
          message.state === 'acked' || (message.state === 'unacked' && message.session === session),
      )
    );
  }

  /** Messages not acknowledged yet. */
  get outstanding(): number {
    return this.#messages.filter((message) => message.state !== 'acked').length;
  }

  /** Deliveries beyond the first, all messages together. */
  get redeliveries(): number {
    return this.#messages.reduce((sum, message) => sum + Math.max(0, message.deliveries - 1), 0);
  }
}

export interface RedeliverFakeSourceOptions {
  readonly name: string;
  readonly broker: FakeQueueBroker;
  readonly clock: FakeClock;
  /** Ends once the broker is sealed and everything is delivered. Default true. */
  readonly bounded?: boolean;
  readonly faults?: FaultInjector;
}

/**
 * A source whose broker redelivers what was not acknowledged. Its watermark is
 * `{ <queue>: sequence after the last committed message }`. It acknowledges messages only when
 * told the sink committed them; a redelivered message the watermark covers (committed, but the
 * acknowledgement was lost) is acknowledged and skipped, never yielded again.
 */
export class RedeliverFakeSource implements Source {
  readonly name: string;
  readonly provenance = FAKE_PROVENANCE;
  readonly capabilities: SourceCapabilities;
  readonly acknowledged: Watermark[] = [];
  /** Redeliveries skipped because the committed watermark covered them. */
  skipped = 0;
  handles = 0;
  readonly #options: RedeliverFakeSourceOptions;
  readonly #faults: FaultInjector;
  #session: number | null = null;
  #covered = 0;

  constructor(options: RedeliverFakeSourceOptions) {
    this.name = options.name;
    this.#options = options;
    this.#faults = options.faults ?? NO_FAULTS;
    this.capabilities = { replay: 'redeliver', exactlyOnce: true, bounded: options.bounded ?? true };
  }

  async open(watermark: Watermark | null): Promise<void> {
    this.#session = this.#options.broker.connect();
    this.handles += 1;
    this.#covered = this.#coveredBy(watermark);
    this.#faults.maybeThrow('source.open');
  }

  async read(options: ReadOptions): Promise<SourceBatch> {
    const session = this.#session;
    if (session === null) throw notOpen(this.name, 'read');
    this.#faults.maybeThrow('source.read');
    const { broker } = this.#options;
    const records: TidemarkRecord[] = [];
    for (const message of broker.deliver(session, options.maxRecords)) {
      if (message.sequence < this.#covered) {
        broker.acknowledge(session, message.sequence + 1);
        this.skipped += 1;
        continue;
      }
      records.push(toRecord(broker.queue, message.sequence, message.entry));
    }
    if (records.length > 0) return { records };
    if (this.capabilities.bounded && broker.drainedFor(session)) return { records, end: true };
    await this.#options.clock.sleep(options.maxWaitMs, options.signal);
    return { records };
  }

  async seek(watermark: Watermark | null): Promise<void> {
    if (this.#session === null) throw notOpen(this.name, 'seek');
    this.#faults.maybeThrow('source.seek');
    this.#options.broker.release(this.#session);
    this.#covered = this.#coveredBy(watermark);
  }

  async acknowledge(watermark: Watermark): Promise<void> {
    if (this.#session === null) throw notOpen(this.name, 'acknowledge');
    this.#faults.maybeThrow('source.acknowledge');
    const below = this.#coveredBy(watermark);
    this.#options.broker.acknowledge(this.#session, below);
    this.#covered = Math.max(this.#covered, below);
    this.acknowledged.push(watermark);
  }

  async close(): Promise<void> {
    if (this.#session !== null) this.#options.broker.release(this.#session);
    this.#session = null;
    this.handles = 0;
  }

  #coveredBy(watermark: Watermark | null): number {
    const position = watermark?.[this.#options.broker.queue];
    return typeof position === 'number' ? position : 0;
  }
}

/**
 * Counts violations in a sink call log: an abort after a commit that failed (its outcome
 * unknown) and before the next recover or open.
 */
export function abortsAfterFailedCommit(calls: readonly string[]): number {
  let failedCommit = false;
  let violations = 0;
  for (const call of calls) {
    if (call === 'commit:uncertain' || call === 'commit:failed') failedCommit = true;
    else if (call === 'recover' || call === 'open') failedCommit = false;
    else if (failedCommit && call.startsWith('abort')) violations += 1;
  }
  return violations;
}
