// Over 400 lines on purpose: the source conformance cases are one list, each case a few
// dozen lines of the runtime's protocol played step by step; the harness (harness.ts) holds
// what they share.
import { createHook } from 'node:async_hooks';
import {
  type JsonValue,
  jsonEqual,
  parseWatermarks,
  type Source,
  type SourceCapabilities,
  serializeWatermarks,
  TidemarkError,
  type Watermark,
  watermarksEqual,
} from '@tidemark/core';
import { createMemorySink } from '@tidemark/core/testing';
import { adaptConnector } from '../adapt.js';
import { configJsonSchema, parseConnectorConfig } from '../spec/config.js';
import { assertExactlyOnce } from './assertions.js';
import { ConformanceKit, roundTrip, type SourceConformanceOptions } from './harness.js';
import { runPipelineToCompletion } from './pipeline.js';

/** One named conformance case. */
export interface ConformanceCase {
  readonly name: string;
  /** Whether the case applies to a source with these capabilities (otherwise it is skipped). */
  readonly applies: (capabilities: SourceCapabilities) => boolean;
  readonly run: (kit: ConformanceKit) => Promise<void>;
}

const always = () => true;
const seekOnly = (capabilities: SourceCapabilities) => capabilities.replay === 'seek';
const redeliverOnly = (capabilities: SourceCapabilities) => capabilities.replay === 'redeliver';

/** The runtime's script in the crash cases, repeated after `open`. */
const SCRIPT = ['read', 'read', 'commit', 'acknowledge'] as const;

/** Name of step `step` (1-based) of the crash script: 1 is open, then SCRIPT repeats. */
export function crashStepName(step: number): string {
  if (step === 1) return 'open';
  const operation = SCRIPT[(step - 2) % SCRIPT.length]!;
  const round = Math.floor((step - 2) / SCRIPT.length) + 1;
  return `${operation} in round ${round}`;
}

/** Every case of the source conformance suite, in the order they run. */
export function sourceConformanceCases(options: SourceConformanceOptions): ConformanceCase[] {
  const crashPoints = options.crashPoints ?? 9;
  const cases: ConformanceCase[] = [
    { name: 'declares a complete contract', applies: always, run: declaresContract },
    {
      name: 'rejects a bad config with a ConfigError listing each issue and its path',
      applies: always,
      run: rejectsBadConfig,
    },
    {
      name: 'provenance is declared and present, with the declared types, on every record',
      applies: always,
      run: provenanceOnEveryRecord,
    },
    {
      name: 'watermarks only move forward and survive a JSON round trip',
      applies: always,
      run: watermarksForward,
    },
    {
      name: 'seek to a watermark resumes exactly after it (several cut points)',
      applies: seekOnly,
      run: seekResumesAfter,
    },
    {
      name: 'a new instance opened at a watermark resumes exactly after it (several cut points)',
      applies: seekOnly,
      run: openResumesAfter,
    },
    {
      name: 'redelivery: after acknowledge, seek to the committed watermark redelivers exactly the unacknowledged records',
      applies: redeliverOnly,
      run: redeliverAfterSeek,
    },
    {
      name: 'redelivery: a new instance opened at the committed watermark receives exactly the unacknowledged records',
      applies: redeliverOnly,
      run: redeliverAfterReopen,
    },
    {
      name: 'rewind after an aborted transaction replays exactly the uncommitted records',
      applies: always,
      run: rewindAfterAbort,
    },
  ];
  for (let step = 1; step <= crashPoints; step += 1) {
    cases.push({
      name: `crash after step ${step} (${crashStepName(step)}), reopen a new instance at the committed watermark: no duplicates, no gaps`,
      applies: always,
      run: (kit) => crashAndReopen(kit, step),
    });
  }
  cases.push(
    {
      name: 'a bounded source reports end after its last record and stays ended',
      applies: (capabilities) => capabilities.bounded,
      run: boundedEnds,
    },
    {
      name: 'close releases every handle (sockets, files, timers)',
      applies: always,
      run: closeReleasesHandles,
    },
    {
      name: 'runs exactly once through the pipeline runtime with injected sink failures',
      applies: (capabilities) => capabilities.exactlyOnce,
      run: throughPipeline,
    },
  );
  return cases;
}

/** Runs one case with the plugin's setup and cleanup around it; closes every instance it left open. */
export async function runConformanceCase(
  options: SourceConformanceOptions,
  conformanceCase: ConformanceCase,
): Promise<void> {
  const kit = new ConformanceKit(options);
  await options.setup?.();
  try {
    await conformanceCase.run(kit);
  } finally {
    await kit.closeAll();
    await options.cleanup?.();
  }
}

const PROVENANCE_NAME = /^[a-z][a-z0-9_]*\.[^\s.][^\s]*$/;
const PROVENANCE_TYPES = new Set(['string', 'integer', 'bigint', 'timestamp', 'boolean']);

async function declaresContract(kit: ConformanceKit): Promise<void> {
  const { connector } = kit.options;
  adaptConnector(connector, connector.packageName);
  const names = new Set<string>();
  for (const column of connector.provenance) {
    if (!PROVENANCE_NAME.test(column.name))
      throw new Error(`provenance column ${column.name} must be namespaced, e.g. 'kafka.offset'`);
    if (!PROVENANCE_TYPES.has(column.type))
      throw new Error(`provenance column ${column.name} has unknown type ${column.type}`);
    if (!column.description) throw new Error(`provenance column ${column.name} needs a description`);
    if (names.has(column.name)) throw new Error(`provenance column ${column.name} is declared twice`);
    names.add(column.name);
  }
  const schema = configJsonSchema(connector);
  const properties = (schema.properties ?? {}) as Record<string, { description?: string }>;
  const undescribed = Object.entries(properties)
    .filter(([, property]) => !property.description)
    .map(([name]) => name);
  if (undescribed.length > 0) throw new Error(`config fields without .describe(): ${undescribed.join(', ')}`);
  const { source } = await kit.create();
  for (const method of ['open', 'read', 'seek', 'acknowledge', 'close'] as const) {
    if (typeof source[method] !== 'function') throw new Error(`the source has no ${method}() method`);
  }
  if (source.name !== 'conformance')
    throw new Error(`source.name must be the context name 'conformance', got ${source.name}`);
  if (
    !jsonEqual(source.capabilities as unknown as JsonValue, connector.capabilities as unknown as JsonValue)
  ) {
    throw new Error('source.capabilities differ from the connector capabilities');
  }
  if (!jsonEqual(source.provenance as unknown as JsonValue, connector.provenance as unknown as JsonValue)) {
    throw new Error('source.provenance differs from the connector provenance');
  }
  await source.close();
}

async function rejectsBadConfig(kit: ConformanceKit): Promise<void> {
  const { connector, badConfig } = kit.options;
  parseConnectorConfig(connector, await kit.options.config(), 'sources[0]');
  let thrown: unknown;
  try {
    parseConnectorConfig(connector, badConfig, 'sources[0]');
  } catch (error) {
    thrown = error;
  }
  if (thrown === undefined) throw new Error('badConfig was accepted by the config schema');
  if (!TidemarkError.hasCode(thrown, 'CONFIG_INVALID') || !('issues' in thrown)) {
    throw new Error(`badConfig raised ${String(thrown)}, not a ConfigError`);
  }
  const issues = (thrown as { issues: readonly { path: string; message: string }[] }).issues;
  if (issues.length === 0) throw new Error('the ConfigError lists no issue');
  for (const issue of issues) {
    if (!issue.path.startsWith('sources[0]'))
      throw new Error(`issue path ${issue.path} does not start at sources[0]`);
    if (!thrown.message.includes(issue.path))
      throw new Error(`the error message does not name ${issue.path}`);
  }
  if (thrown.retriable) throw new Error('a config error must not be retriable');
}

async function provenanceOnEveryRecord(kit: ConformanceKit): Promise<void> {
  const produced = await kit.options.produce(kit.settings.recordCount);
  const { source } = await kit.open(null);
  const read = await kit.readRecords(source, produced.length);
  assertExactlyOnce(kit.ids(read.records), [...produced], 'records read from the start');
  if (read.records.length === 0) throw new Error('read no record');
}

async function watermarksForward(kit: ConformanceKit): Promise<void> {
  const produced = await kit.options.produce(kit.settings.recordCount);
  const { source } = await kit.open(null);
  let previous: Watermark = {};
  let acknowledged: Watermark | undefined;
  let count = 0;
  const deadline = Date.now() + kit.settings.readTimeoutMs;
  while (count < produced.length) {
    if (Date.now() > deadline)
      throw new Error(`read ${count} of ${produced.length} records before the deadline`);
    const read = await kit.readRecords(source, 1, previous);
    count += read.records.length;
    const watermark = read.watermark;
    for (const [unit, position] of Object.entries(previous)) {
      const next = watermark[unit];
      if (next === undefined) throw new Error(`unit ${unit} disappeared from the watermark`);
      const order = kit.compare(position, next, unit);
      if (order !== undefined && order > 0)
        throw new Error(
          `unit ${unit} moved back from ${JSON.stringify(position)} to ${JSON.stringify(next)}`,
        );
    }
    const text = serializeWatermarks({ conformance: watermark });
    const parsed = parseWatermarks(text).conformance;
    if (!watermarksEqual(parsed, watermark))
      throw new Error(`watermark ${text} does not survive a JSON round trip`);
    await source.acknowledge(parsed!);
    if (acknowledged) await source.acknowledge(acknowledged);
    acknowledged = parsed!;
    previous = watermark;
    if (read.ended) break;
  }
  await source.seek(roundTrip(previous));
  await kit.expectNothingMore(source, 'after seeking to the final watermark');
}

/** Cut points: 0, 1, half, all but one, all (deduplicated, within range). */
function cutPoints(total: number): number[] {
  return [...new Set([0, 1, Math.floor(total / 2), total - 1, total])]
    .filter((cut) => cut >= 0 && cut <= total)
    .sort((a, b) => a - b);
}

async function seekResumesAfter(kit: ConformanceKit): Promise<void> {
  const produced = await kit.options.produce(kit.settings.recordCount);
  const { source } = await kit.open(null);
  const first = await kit.readRecords(source, produced.length);
  assertExactlyOnce(kit.ids(first.records), [...produced], 'first read');
  for (const cut of [...cutPoints(first.records.length)].reverse().concat(cutPoints(first.records.length))) {
    const watermark = roundTrip(kit.watermarkAt(first, cut));
    await source.seek(watermark);
    const rest = await kit.readRecords(source, first.records.length - cut, watermark);
    kit.assertSameRecords(rest.records, first.records.slice(cut), `after seek to cut ${cut}`);
    if (!rest.ended) await kit.expectNothingMore(source, `after seek to cut ${cut}`);
  }
}

async function openResumesAfter(kit: ConformanceKit): Promise<void> {
  const produced = await kit.options.produce(kit.settings.recordCount);
  const reader = await kit.open(null);
  const first = await kit.readRecords(reader.source, produced.length);
  await reader.source.close();
  for (const cut of cutPoints(first.records.length)) {
    const watermark = roundTrip(kit.watermarkAt(first, cut));
    const { source } = await kit.open(watermark);
    const rest = await kit.readRecords(source, first.records.length - cut, watermark);
    kit.assertSameRecords(rest.records, first.records.slice(cut), `new instance opened at cut ${cut}`);
    if (!rest.ended) await kit.expectNothingMore(source, `new instance opened at cut ${cut}`);
    await source.close();
  }
}

async function redeliverAfterSeek(kit: ConformanceKit): Promise<void> {
  const produced = await kit.options.produce(kit.settings.recordCount);
  const { source } = await kit.open(null);
  const first = await kit.readRecords(source, produced.length);
  const cut = Math.floor(first.records.length / 2);
  const committed = roundTrip(kit.watermarkAt(first, cut));
  if (committed) await source.acknowledge(committed);
  await source.seek(committed);
  const rest = await kit.readRecords(source, first.records.length - cut, committed);
  assertExactlyOnce(
    kit.ids(rest.records),
    kit.ids(first.records.slice(cut)),
    `redelivered after seek to cut ${cut}`,
  );
  await kit.expectNothingMore(source, 'after redelivery');
}

async function redeliverAfterReopen(kit: ConformanceKit): Promise<void> {
  const produced = await kit.options.produce(kit.settings.recordCount);
  const reader = await kit.open(null);
  const first = await kit.readRecords(reader.source, produced.length);
  const cut = Math.floor(first.records.length / 2);
  const committed = roundTrip(kit.watermarkAt(first, cut));
  if (committed) await reader.source.acknowledge(committed);
  await kit.crash(reader);
  const { source } = await kit.open(committed);
  const rest = await kit.readRecords(source, first.records.length - cut, committed);
  assertExactlyOnce(
    kit.ids(rest.records),
    kit.ids(first.records.slice(cut)),
    `redelivered to a new instance at cut ${cut}`,
  );
  await kit.expectNothingMore(source, 'after redelivery to a new instance');
}

/**
 * The kit as runtime: an in-memory committed log (ids and the watermark, stored together, as a
 * transactional sink does) driven by a fixed script.
 */
class CommittedLog {
  ids: string[] = [];
  watermark: Watermark | null = null;
  #pendingIds: string[] = [];
  #pendingWatermark: Watermark | null = null;
  #acknowledged: Watermark | null = null;

  constructor(readonly kit: ConformanceKit) {}

  async read(source: Source): Promise<boolean> {
    const batch = await this.kit.readBatch(source);
    let watermark: Watermark = this.#pendingWatermark ?? this.watermark ?? {};
    for (const record of batch.records) {
      this.kit.checkForward(watermark, record);
      watermark = { ...watermark, [record.position.unit]: record.position.next };
      this.#pendingIds.push(this.kit.options.idOf(record));
    }
    if (batch.advance) watermark = { ...watermark, ...batch.advance };
    this.#pendingWatermark = watermark;
    return batch.end === true;
  }

  commit(): void {
    if (this.#pendingWatermark === null) return;
    this.ids.push(...this.#pendingIds);
    this.watermark = roundTrip(this.#pendingWatermark);
    this.#pendingIds = [];
    this.#pendingWatermark = null;
  }

  async acknowledge(source: Source): Promise<void> {
    if (this.watermark === null || watermarksEqual(this.watermark, this.#acknowledged ?? undefined)) return;
    await source.acknowledge(this.watermark);
    this.#acknowledged = this.watermark;
  }

  /** Drops what was read but not committed (an abort, or a crash). */
  discard(): void {
    this.#pendingIds = [];
    this.#pendingWatermark = null;
  }
}

async function rewindAfterAbort(kit: ConformanceKit): Promise<void> {
  const produced = await kit.options.produce(kit.settings.recordCount);
  const log = new CommittedLog(kit);
  const { source } = await kit.open(null);
  await log.read(source);
  log.discard();
  await source.seek(null);
  let rounds = 0;
  const deadline = Date.now() + kit.settings.readTimeoutMs;
  while (log.ids.length < produced.length && Date.now() < deadline) {
    const ended = await log.read(source);
    if (rounds % 3 === 1) {
      log.discard();
      await source.seek(log.watermark);
    } else {
      log.commit();
      await log.acknowledge(source);
      if (ended) break;
    }
    rounds += 1;
  }
  await drain(kit, log, source);
  assertExactlyOnce(log.ids, [...produced], 'committed after rewinds');
}

async function crashAndReopen(kit: ConformanceKit, crashAfter: number): Promise<void> {
  const produced = await kit.options.produce(kit.settings.recordCount);
  const log = new CommittedLog(kit);
  let instance = await kit.open(null);
  let step = 1;
  let crashed = false;
  let ended = false;
  const deadline = Date.now() + kit.settings.readTimeoutMs * 2;
  const maybeCrash = async () => {
    if (crashed || step !== crashAfter) return;
    crashed = true;
    await kit.crash(instance);
    log.discard();
    ended = false;
    instance = await kit.open(log.watermark);
  };
  await maybeCrash();
  while (log.ids.length < produced.length && Date.now() < deadline) {
    for (const operation of SCRIPT) {
      if (operation === 'read') ended = (await log.read(instance.source)) || ended;
      else if (operation === 'commit') log.commit();
      else await log.acknowledge(instance.source);
      step += 1;
      await maybeCrash();
    }
    if (ended) break;
  }
  await drain(kit, log, instance.source);
  assertExactlyOnce(
    log.ids,
    [...produced],
    `committed with a crash after step ${crashAfter} (${crashStepName(crashAfter)})`,
  );
}

/** One more quiet read, committed: anything it returns is a duplicate or a stranger. */
async function drain(kit: ConformanceKit, log: CommittedLog, source: Source): Promise<void> {
  const batch = await kit.readBatch(source, kit.settings.quietMs);
  log.ids.push(...batch.records.map((record) => kit.options.idOf(record)));
}

async function boundedEnds(kit: ConformanceKit): Promise<void> {
  const produced = await kit.options.produce(kit.settings.recordCount);
  const { source } = await kit.open(null);
  const read = await kit.readRecords(source, Number.POSITIVE_INFINITY);
  assertExactlyOnce(kit.ids(read.records), [...produced], 'records before end');
  const again = await kit.readBatch(source, kit.settings.quietMs);
  if (again.records.length > 0 || again.end !== true)
    throw new Error('a bounded source must keep returning { records: [], end: true } after its end');
}

function countResources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) counts.set(type, (counts.get(type) ?? 0) + 1);
  return counts;
}

/** Handle-like async resource types: what a source must not leave behind. */
const HANDLE_TYPES = new Set([
  'Timeout',
  'TCPWRAP',
  'TCPSERVERWRAP',
  'PIPEWRAP',
  'PIPESERVERWRAP',
  'UDPWRAP',
  'FSEVENTWRAP',
  'STATWATCHER',
  'FILEHANDLE',
  'PROCESSWRAP',
  'SIGNALWRAP',
]);

/**
 * Tracks handles created while `run` executes and reports those still alive `settleMs` after
 * it returned (async_hooks identifies each one, so a baseline timer expiring cannot hide a leaked
 * one), with the `process.getActiveResourcesInfo()` counts before and after for context.
 */
async function leakedHandles(settleMs: number, run: () => Promise<void>): Promise<string[]> {
  const live = new Map<number, { type: string; resource: WeakRef<object>; stack: string }>();
  let ignoring = false;
  const pause = () =>
    new Promise((resolve) => {
      ignoring = true;
      setTimeout(resolve, 25);
      ignoring = false;
    });
  const hook = createHook({
    init(asyncId, type, _triggerAsyncId, resource) {
      if (ignoring || !HANDLE_TYPES.has(type)) return;
      live.set(asyncId, { type, resource: new WeakRef(resource), stack: creationSite() });
    },
    destroy(asyncId) {
      live.delete(asyncId);
    },
  });
  const before = countResources();
  hook.enable();
  try {
    await run();
    const deadline = Date.now() + settleMs;
    while (live.size > 0 && Date.now() < deadline) await pause();
  } finally {
    hook.disable();
  }
  if (live.size === 0) return [];
  const after = countResources();
  const active = [...new Set([...before.keys(), ...after.keys()])]
    .map((type) => `${type} ${before.get(type) ?? 0} → ${after.get(type) ?? 0}`)
    .join(', ');
  const described = [...live.values()]
    .slice(0, 5)
    .map(({ type, resource, stack }) => `${describeHandle(type, resource.deref())} created at ${stack}`);
  return [`${live.size} handle(s): ${described.join('; ')} (active resources: ${active})`];
}

/** The first stack frame outside Node's internals and this kit: where a handle was created. */
function creationSite(): string {
  const frames = (new Error().stack ?? '').split('\n').slice(1);
  const frame = frames.find(
    (line) => !line.includes('node:') && !line.includes('/testing/cases.') && !line.includes('/sdk/dist/'),
  );
  return frame?.trim().replace(/^at /, '') ?? 'an unknown site';
}

function describeHandle(type: string, resource: object | undefined): string {
  if (type !== 'Timeout' || !resource) return type;
  const timer = resource as { _idleTimeout?: number; _repeat?: number | null; hasRef?: () => boolean };
  const kind = timer._repeat ? 'setInterval' : 'setTimeout';
  return `${kind}(${String(timer._idleTimeout)} ms${timer.hasRef?.() === false ? ', unref' : ''})`;
}

async function closeReleasesHandles(kit: ConformanceKit): Promise<void> {
  const produced = await kit.options.produce(kit.settings.recordCount);
  const leaked = await leakedHandles(kit.settings.settleMs, async () => {
    const unopened = await kit.create();
    await unopened.source.close();
    const { source } = await kit.open(null);
    const read = await kit.readRecords(source, produced.length);
    await source.acknowledge(read.watermark);
    await source.close();
    await source.close();
  });
  if (leaked.length > 0)
    throw new Error(`handles still open ${kit.settings.settleMs} ms after close(): ${leaked.join('; ')}`);
}

async function throughPipeline(kit: ConformanceKit): Promise<void> {
  const produced = await kit.options.produce(kit.settings.recordCount);
  const faults = new Map([
    [2, 'fail'],
    [3, 'uncertain-lost'],
    [4, 'uncertain-committed'],
  ] as const);
  const sink = createMemorySink({ commitFault: (attempt) => faults.get(attempt as 2 | 3 | 4) });
  const { source } = await kit.create();
  await runPipelineToCompletion({
    sources: [source],
    sink,
    until: (memory) => memory.committedRecords.length >= produced.length,
    commit: { maxRecords: kit.settings.batchSize },
    batch: { maxRecords: kit.settings.batchSize },
    timeoutMs: kit.settings.readTimeoutMs * 2,
  });
  if (sink.commitAttempts < 5)
    throw new Error(`expected at least 5 commits (3 of them faulty), saw ${sink.commitAttempts}`);
  assertExactlyOnce(kit.ids(sink.committedRecords), [...produced], 'committed through the pipeline');
}
