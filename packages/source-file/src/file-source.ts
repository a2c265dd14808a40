import { readdir, stat } from 'node:fs/promises';
import { basename, join, matchesGlob } from 'node:path';
import {
  type ConnectorContext,
  type JsonValue,
  type Logger,
  type ProvenanceColumn,
  type ProvenanceValue,
  parseConnectorConfig,
  type ReadOptions,
  type Source,
  type SourceBatch,
  type SourceCapabilities,
  silentLogger,
  TidemarkError,
  type TidemarkRecord,
  type Watermark,
} from '@tidemark/sdk';
import { type FileSourceConfig, type FileSourceConfigInput, fileSourceConfigSchema } from './config.js';
import { LineDecoder } from './decode.js';
import { DirectoryDiscovery, type ListedFile } from './discovery.js';
import { FileDescriptor } from './file-descriptor.js';
import {
  decodeWatermark,
  encodeFinished,
  FINISHED_UNIT,
  type LaneState,
  laneUnit,
} from './file-watermark.js';
import {
  FINGERPRINT_BYTES,
  type FileIdentity,
  fingerprint,
  finishedToken,
  hasBirthTime,
  identityKey,
  identityOf,
} from './identity.js';
import { type ActiveFile, BatchBuilder, laneStateOf, locateLaneFile } from './lanes.js';
import { LineSplitter, type LineSplitterOptions, type SplitLine } from './line-splitter.js';

// Over 400 lines on purpose: FileSource owns the lane table, the finished-file set and the
// batch-mode queue, and positioning, reconciling a listing and pumping lines all change them
// together. Discovery (discovery.ts), decoding (decode.ts), lane state and locating a lane's
// file (lanes.ts), identity and the watermark codec live in their own files.

/** The provenance columns every record of a file source carries. */
export const FILE_PROVENANCE: readonly ProvenanceColumn[] = Object.freeze([
  {
    name: 'file.path',
    type: 'string',
    description: 'Path of the file the line was read from (its name when read).',
  },
  {
    name: 'file.position',
    type: 'integer',
    description: 'Byte offset just after the line (after its newline): resuming there yields the next line.',
  },
  { name: 'file.line', type: 'integer', description: 'Line number of the record in its file, from 1.' },
]);

/** Finished-file tokens missing from this many consecutive directory listings are forgotten. */
const PRUNE_AFTER_MISSES = 2;

/**
 * A file source: reads the files of one directory that match a glob, in name or modification-time
 * order, line by line, and reports a watermark that resumes each file exactly after the last line
 * handed to the runtime.
 *
 * Watermark layout (see the package README): `lane/N` units each hold one file in progress
 * ({@link LaneState}, `null` once the lane is free), and the `finished` unit holds compact tokens
 * of finished files that are still in the directory. Lanes, not file identities, are the units
 * because the runtime merges watermarks unit by unit and never drops a unit: with one unit per
 * file the watermark would grow with every file ever read.
 *
 * Lifecycle per the Source contract: `open` → (`read` | `seek` | `acknowledge`)* → `close`, one
 * call at a time.
 */
export class FileSource implements Source {
  readonly name: string;
  readonly provenance = FILE_PROVENANCE;
  readonly capabilities: SourceCapabilities;

  readonly #config: FileSourceConfig;
  readonly #logger: Logger;
  #isOpen = false;
  #ended = false;
  readonly #active = new Map<number, ActiveFile>();
  /** Lanes freed since the last batch: reported as null, not reused until then. */
  readonly #freedLanes = new Set<number>();
  #finished = new Set<string>();
  #finishedDirty = false;
  readonly #missing = new Map<string, number>();
  /** Batch mode: files still to read, in order. */
  #queue: ListedFile[] = [];
  /** `start: latest`: where each file stood when the source first opened without a watermark. */
  #latest: Map<string, { offset: number; line: number }> | null = null;
  #useLatest = false;
  readonly #tokens = new Map<string, { size: number; mtimeNs: bigint; token: string }>();
  readonly #discovery: DirectoryDiscovery;
  readonly #decoder: LineDecoder;
  readonly #splitterOptions: LineSplitterOptions;

  constructor(config: FileSourceConfig, name: string, logger: Logger = silentLogger) {
    this.#config = config;
    this.name = name;
    this.#logger = logger.child({ source: name, directory: config.directory });
    this.capabilities = Object.freeze({ replay: 'seek', exactlyOnce: true, bounded: !config.watch });
    this.#discovery = new DirectoryDiscovery(config, name, this.#logger);
    this.#decoder = new LineDecoder(config);
    this.#splitterOptions = { csv: config.format === 'csv' };
  }

  /**
   * Checks the directory, starts watching it (tail mode) and positions every file: from the
   * watermark when one is given, else from the configured start. Throws CONFIG_INVALID when
   * `directory` is not a directory, WATERMARK_INVALID for a watermark of another shape, and
   * ILLEGAL_STATE when already open.
   */
  async open(watermark: Watermark | null): Promise<void> {
    if (this.#isOpen)
      throw new TidemarkError('ILLEGAL_STATE', `file source '${this.name}': open() while open`);
    await this.#discovery.checkDirectory();
    this.#isOpen = true;
    try {
      if (this.#config.watch) this.#discovery.startWatching();
      await this.#position(watermark);
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  /**
   * Reads the next lines. Returns as soon as some records are available, when a file finished
   * (its lane is freed in `advance`), when a limit is reached, after `maxWaitMs` without data, or
   * promptly once `signal` is aborted. In batch mode returns `end: true` once every file of the
   * listing taken at open (or at the last seek) is finished.
   */
  async read(options: ReadOptions): Promise<SourceBatch> {
    this.#assertOpen('read');
    if (this.#ended) return { records: [], end: true };
    const deadline = Date.now() + options.maxWaitMs;
    const batch = new BatchBuilder(options);
    const { watch: tailing, pollIntervalMs } = this.#config;
    try {
      while (!options.signal.aborted && this.#isOpen) {
        if (tailing && this.#discovery.scanDue) await this.#scan();
        if (!tailing && this.#active.size === 0) await this.#admitNextQueued();
        let finishedOne = false;
        for (const active of this.#readOrder()) {
          const outcome = await this.#pump(active, batch);
          if (outcome === 'finished') finishedOne = true;
          if (outcome !== 'eof') break;
        }
        if (!tailing && this.#active.size === 0 && this.#queue.length === 0) {
          await this.#pruneFinished(await this.#discovery.list());
          this.#ended = true;
          break;
        }
        if (finishedOne || batch.full || batch.records.length > 0) break;
        if (!tailing) continue;
        const remaining = deadline - Date.now();
        if (remaining <= 0) break;
        await this.#discovery.waitForChange(Math.min(remaining, pollIntervalMs), options.signal);
      }
    } catch (error) {
      throw fileError(error, `file source '${this.name}': read failed`);
    }
    const advance = this.#collectAdvance();
    return {
      records: batch.records,
      ...(advance === undefined ? {} : { advance }),
      ...(this.#ended ? { end: true } : {}),
    };
  }

  /**
   * Drops everything read but not committed and repositions every file just after `watermark`
   * (null: at the configured start; `latest` keeps the positions taken when first opened).
   */
  async seek(watermark: Watermark | null): Promise<void> {
    this.#assertOpen('seek');
    try {
      await this.#position(watermark);
    } catch (error) {
      throw fileError(error, `file source '${this.name}': seek failed`);
    }
  }

  /** Nothing to do: positions live in the sink. Accepts any watermark, repeated ones included. */
  async acknowledge(_watermark: Watermark): Promise<void> {}

  /** Closes every file descriptor and the directory watcher. Idempotent. */
  async close(): Promise<void> {
    this.#isOpen = false;
    await this.#discovery.close();
    await this.#releaseFiles();
  }

  async #releaseFiles(): Promise<void> {
    const handles = [...this.#active.values()].map((active) => active.handle);
    this.#active.clear();
    this.#freedLanes.clear();
    await Promise.allSettled(handles.map((handle) => handle.close()));
  }

  async #position(watermark: Watermark | null): Promise<void> {
    const decoded = watermark === null ? null : decodeWatermark(watermark);
    await this.#releaseFiles();
    this.#ended = false;
    this.#queue = [];
    this.#missing.clear();
    this.#finished = new Set(decoded?.finished);
    this.#finishedDirty = false;
    this.#useLatest = decoded === null && this.#config.start === 'latest';
    if (decoded !== null) {
      for (const [lane, state] of [...decoded.lanes].sort(([a], [b]) => a - b))
        await this.#resume(lane, state);
    }
    const listing = await this.#discovery.scan();
    if (this.#useLatest && this.#latest === null) {
      this.#latest = new Map();
      for (const listed of listing) this.#latest.set(listed.key, await this.#latestPosition(listed));
    }
    await this.#reconcile(listing);
  }

  /** Reopens the file of a committed lane, wherever it is now; frees the lane when it is gone. */
  async #resume(lane: number, state: LaneState): Promise<void> {
    const located = await locateLaneFile(this.#config.directory, state);
    if (located === null) {
      this.#logger.warn(
        { lane, path: state.path, offset: state.offset },
        'file in progress is gone (deleted, or replaced by another file); whatever it held after the committed position is lost',
      );
      this.#freedLanes.add(lane);
      return;
    }
    const { handle, path, size } = located;
    if (path !== state.path && !matchesGlob(basename(path), this.#config.pattern))
      await this.#warnRotatedAway(state.path, path, located.mtimeNs);
    let { offset, line, generation, head, headLength } = state;
    const headMatches =
      headLength === 0 || (size >= headLength && (await fingerprint(handle, headLength)) === head);
    if (size < offset || !headMatches) {
      this.#logger.warn(
        { lane, path, offset, size },
        'file was truncated since the committed position; reading it again from 0',
      );
      generation += 1;
      offset = 0;
      line = 0;
      head = '';
      headLength = 0;
    }
    const active = this.#activate(lane, path, located.identity, handle, offset, line);
    active.generation = generation;
    active.head = head;
    active.headLength = headLength;
    active.mtimeNs = located.mtimeNs;
    active.readMtimeNs = located.mtimeNs;
    active.reported = JSON.stringify(state);
    if (this.#config.format === 'csv' && offset > 0) await this.#loadCsvHeader(active);
  }

  /**
   * The file in progress was renamed out of the pattern while the source was stopped: it is read
   * to its end, but a file that took its name and was itself rotated out before the restart
   * (app.log → .1 → .2) was never seen and is not read. Warns naming such candidates: files
   * outside the pattern modified since the file in progress was.
   */
  async #warnRotatedAway(from: string, to: string, since: bigint): Promise<void> {
    const skipped: string[] = [];
    for (const name of await readdir(this.#config.directory).catch(() => [] as string[])) {
      const path = join(this.#config.directory, name);
      if (path === to || matchesGlob(name, this.#config.pattern)) continue;
      const stats = await stat(path, { bigint: true }).catch(() => null);
      if (stats?.isFile() && stats.mtimeNs >= since) skipped.push(path);
    }
    this.#logger.warn(
      { from, to, notRead: skipped },
      skipped.length > 0
        ? `file in progress was rotated out of the pattern while stopped; it is read to its end, but ${skipped.join(', ')} (rotated out of the pattern too, never seen) is not read: widen pattern to the rotated names (e.g. '${this.#config.pattern}*') to read rotated files`
        : 'file in progress was rotated out of the pattern while stopped; it is read to its end',
    );
  }

  #activate(
    lane: number,
    path: string,
    identity: FileIdentity,
    handle: FileDescriptor,
    offset: number,
    line: number,
  ): ActiveFile {
    const active: ActiveFile = {
      lane,
      path,
      name: path.slice(this.#config.directory.length + 1),
      identity,
      key: identityKey(identity),
      handle,
      splitter: new LineSplitter(this.#config.maxLineBytes, offset, this.#splitterOptions),
      line,
      head: '',
      headLength: 0,
      generation: 0,
      mtimeNs: 0n,
      readMtimeNs: 0n,
      departedAt: null,
      departedScans: 0,
      csvHeader: null,
      headerSeen: false,
      reported: null,
      lastEmitted: null,
    };
    this.#active.set(lane, active);
    return active;
  }

  async #scan(): Promise<void> {
    await this.#reconcile(await this.#discovery.scan());
  }

  /**
   * Matches a listing against the active files (by identity, so renames are followed), marks
   * active files missing from it as departed, and admits new files: all of them when tailing,
   * one at a time in order (through the queue) in batch mode.
   */
  async #reconcile(listing: readonly ListedFile[]): Promise<void> {
    const now = Date.now();
    const byKey = new Map(listing.map((listed) => [listed.key, listed]));
    const activeKeys = new Set<string>();
    for (const active of this.#active.values()) {
      activeKeys.add(active.key);
      const listed = byKey.get(active.key);
      if (listed) {
        active.path = listed.path;
        active.name = listed.name;
        active.mtimeNs = listed.mtimeNs;
        active.departedAt = null;
        active.departedScans = 0;
      } else {
        active.departedScans += 1;
        if (active.departedAt === null) {
          active.departedAt = now;
          this.#logger.debug(
            { path: active.path },
            'file left the pattern (renamed or deleted); draining it',
          );
        }
      }
    }
    const candidates: ListedFile[] = [];
    for (const listed of listing) {
      if (activeKeys.has(listed.key)) continue;
      const token = await this.#tokenOf(listed);
      if (token === null || this.#finished.has(token)) continue;
      candidates.push(listed);
    }
    await this.#pruneFinished(listing);
    for (const key of this.#tokens.keys()) if (!byKey.has(key)) this.#tokens.delete(key);
    if (this.#config.watch) {
      for (const listed of candidates) await this.#admit(listed);
    } else {
      this.#queue = candidates;
    }
  }

  /** Forgets finished tokens of files missing from {@link PRUNE_AFTER_MISSES} listings in a row. */
  async #pruneFinished(listing: readonly ListedFile[]): Promise<void> {
    if (this.#finished.size === 0) return;
    const present = new Set<string>();
    for (const listed of listing) {
      const token = await this.#tokenOf(listed);
      if (token !== null) present.add(token);
    }
    for (const token of this.#finished) {
      if (present.has(token)) {
        this.#missing.delete(token);
        continue;
      }
      const misses = (this.#missing.get(token) ?? 0) + 1;
      if (misses >= PRUNE_AFTER_MISSES) {
        this.#finished.delete(token);
        this.#missing.delete(token);
        this.#finishedDirty = true;
      } else {
        this.#missing.set(token, misses);
      }
    }
  }

  /** The finished-token a listed file would have; null when it vanished meanwhile. */
  async #tokenOf(listed: ListedFile): Promise<string | null> {
    const cached = this.#tokens.get(listed.key);
    if (hasBirthTime(listed.identity)) {
      if (cached) return cached.token;
      const token = finishedToken(listed.identity, '');
      this.#tokens.set(listed.key, { size: 0, mtimeNs: 0n, token });
      return token;
    }
    // Without a birth time an inode may be reused by a new file at once (NFS, some FUSE mounts):
    // the cached token holds only while size and modification time are unchanged; otherwise
    // the first bytes are read again, so a replaced file is never taken for a finished one.
    if (cached && cached.size === listed.size && cached.mtimeNs === listed.mtimeNs) return cached.token;
    let handle: FileDescriptor;
    try {
      handle = await FileDescriptor.open(listed.path);
    } catch {
      return null;
    }
    try {
      const head = await fingerprint(handle, Math.min(listed.size, FINGERPRINT_BYTES));
      const token = finishedToken(listed.identity, head);
      this.#tokens.set(listed.key, { size: listed.size, mtimeNs: listed.mtimeNs, token });
      return token;
    } finally {
      await handle.close();
    }
  }

  async #admitNextQueued(): Promise<void> {
    while (this.#active.size === 0) {
      const next = this.#queue.shift();
      if (next === undefined) return;
      await this.#admit(next);
    }
  }

  /** Opens a newly seen file in a free lane, at 0 (or at its `latest` position). */
  async #admit(listed: ListedFile): Promise<void> {
    let handle: FileDescriptor;
    try {
      handle = await FileDescriptor.open(listed.path);
    } catch {
      return;
    }
    const stats = await handle.stat().catch(async (error: unknown) => {
      await handle.close();
      throw error;
    });
    const identity = identityOf(stats);
    if (identityKey(identity) !== listed.key) {
      await handle.close();
      this.#discovery.requestScan();
      return;
    }
    let lane = 0;
    while (this.#active.has(lane) || this.#freedLanes.has(lane)) lane += 1;
    const latest = this.#useLatest ? this.#latest?.get(listed.key) : undefined;
    const active = this.#activate(
      lane,
      listed.path,
      identity,
      handle,
      latest?.offset ?? 0,
      latest?.line ?? 0,
    );
    active.mtimeNs = stats.mtimeNs;
    active.readMtimeNs = stats.mtimeNs;
    await this.#refreshHead(active, Number(stats.size));
    if (this.#config.format === 'csv' && active.splitter.lineStart > 0) await this.#loadCsvHeader(active);
  }

  /** Where `start: latest` begins in a file: after its last newline, with the line count there. */
  async #latestPosition(listed: ListedFile): Promise<{ offset: number; line: number }> {
    let handle: FileDescriptor;
    try {
      handle = await FileDescriptor.open(listed.path);
    } catch {
      return { offset: 0, line: 0 };
    }
    try {
      const buffer = Buffer.allocUnsafe(this.#config.readBufferBytes);
      let position = 0;
      let offset = 0;
      let line = 0;
      while (position < listed.size) {
        const { bytesRead } = await handle.read(
          buffer,
          0,
          Math.min(buffer.length, listed.size - position),
          position,
        );
        if (bytesRead === 0) break;
        let index = buffer.indexOf(10, 0);
        while (index !== -1 && index < bytesRead) {
          line += 1;
          offset = position + index + 1;
          index = buffer.indexOf(10, index + 1);
        }
        position += bytesRead;
      }
      return { offset, line };
    } finally {
      await handle.close();
    }
  }

  /** True when the first `headLength` bytes no longer hash to the fingerprint taken earlier. */
  async #headChanged(active: ActiveFile): Promise<boolean> {
    if (active.headLength === 0) return false;
    return (await fingerprint(active.handle, active.headLength)) !== active.head;
  }

  /** Keeps the fingerprint covering the first bytes of the file (up to FINGERPRINT_BYTES). */
  async #refreshHead(active: ActiveFile, size: number): Promise<void> {
    const length = Math.min(size, FINGERPRINT_BYTES);
    if (length <= active.headLength) return;
    active.head = await fingerprint(active.handle, length);
    active.headLength = length;
  }

  /** Reads the header row of a CSV file whose reading resumes past it. */
  async #loadCsvHeader(active: ActiveFile): Promise<void> {
    const splitter = new LineSplitter(this.#config.maxLineBytes, 0, this.#splitterOptions);
    const buffer = Buffer.allocUnsafe(Math.min(this.#config.readBufferBytes, 64 * 1024));
    let position = 0;
    while (position < active.splitter.lineStart) {
      const { bytesRead } = await active.handle.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) break;
      splitter.push(Buffer.from(buffer.subarray(0, bytesRead)));
      position += bytesRead;
      for (let line = splitter.next(); line !== null; line = splitter.next()) {
        if (line.end > active.splitter.lineStart) return;
        if (this.#decoder.takeCsvHeader(active, line)) return;
      }
    }
  }

  #readOrder(): ActiveFile[] {
    const actives = [...this.#active.values()];
    if (actives.length < 2) return actives;
    return actives.sort(this.#discovery.compare);
  }

  /**
   * Reads lines of one file into the batch until the batch is full ('full'), the file has no
   * more data for now ('eof') or the file is finished ('finished': its lane is freed).
   */
  async #pump(active: ActiveFile, batch: BatchBuilder): Promise<'full' | 'eof' | 'finished'> {
    while (true) {
      for (let line = active.splitter.next(); line !== null; line = active.splitter.next()) {
        active.line += 1 + line.embeddedNewlines;
        this.#emit(active, line, batch);
        if (batch.full) return 'full';
      }
      if (batch.options.signal.aborted) return 'full';
      const stats = await active.handle.stat();
      const size = Number(stats.size);
      const modified = stats.mtimeNs !== active.readMtimeNs;
      active.readMtimeNs = stats.mtimeNs;
      active.mtimeNs = stats.mtimeNs;
      const position = active.splitter.readPosition;
      // Truncated: shorter than what was read, or (truncated and rewritten up to or past the read
      // position) its first bytes changed; appends never change them. They are compared whenever
      // the file changed since this loop last looked, and before any new bytes are read.
      const rewritten =
        size >= position && (modified || size > position) && (await this.#headChanged(active));
      if (size < position || rewritten) {
        this.#logger.warn(
          { path: active.path, position, size },
          'file was truncated (copytruncate?); reading it again from 0',
        );
        active.generation += 1;
        active.splitter = new LineSplitter(this.#config.maxLineBytes, 0, this.#splitterOptions);
        active.line = 0;
        active.head = '';
        active.headLength = 0;
        active.csvHeader = null;
        active.headerSeen = false;
        continue;
      }
      if (size > position) {
        await this.#refreshHead(active, size);
        const chunk = Buffer.allocUnsafe(Math.min(size - position, this.#config.readBufferBytes));
        const { bytesRead } = await active.handle.read(chunk, 0, chunk.length, position);
        if (bytesRead > 0) {
          active.splitter.push(bytesRead === chunk.length ? chunk : chunk.subarray(0, bytesRead));
          continue;
        }
      }
      if (!this.#shouldFinish(active)) return 'eof';
      const last = active.splitter.flush();
      if (last !== null) {
        active.line += 1 + last.embeddedNewlines;
        this.#emit(active, last, batch);
      }
      await this.#finish(active);
      return 'finished';
    }
  }

  /** Whether a file read to its current end is finished (see the README for the rules). */
  #shouldFinish(active: ActiveFile): boolean {
    const { watch: tailing, pollIntervalMs, finishIdleMs } = this.#config;
    if (!tailing) return true;
    const now = Date.now();
    if (active.departedAt !== null) {
      return active.departedScans >= PRUNE_AFTER_MISSES && now - active.departedAt >= pollIntervalMs;
    }
    if (finishIdleMs === null || now - Number(active.mtimeNs / 1_000_000n) < finishIdleMs) return false;
    const compare = this.#discovery.compare;
    for (const other of this.#active.values()) {
      if (other !== active && other.departedAt === null && compare(active, other) < 0) return true;
    }
    return false;
  }

  async #finish(active: ActiveFile): Promise<void> {
    this.#active.delete(active.lane);
    this.#freedLanes.add(active.lane);
    this.#finished.add(finishedToken(active.identity, active.head));
    this.#missing.delete(finishedToken(active.identity, active.head));
    this.#finishedDirty = true;
    await active.handle.close();
    this.#logger.debug({ path: active.path, lines: active.line }, 'file finished');
  }

  /** Turns one line into a record (or nothing, for blank lines and the CSV header). */
  #emit(active: ActiveFile, line: SplitLine, batch: BatchBuilder): void {
    const decoded = this.#decoder.decode(line, active);
    if (decoded.skip) return;
    const state = laneStateOf(active);
    active.lastEmitted = state;
    const provenance: Record<string, ProvenanceValue> = {
      'file.path': active.path,
      'file.position': line.end,
      'file.line': active.line - line.embeddedNewlines,
    };
    const record: TidemarkRecord = {
      key: decoded.key,
      value: decoded.value,
      headers: {},
      rowtime: decoded.rowtime ?? Number(active.mtimeNs / 1_000_000n),
      provenance,
      position: { unit: laneUnit(active.lane), next: state as unknown as JsonValue },
    };
    if (decoded.poison !== undefined) record.poison = decoded.poison;
    batch.add(record);
  }

  /** Watermark entries that changed without a record carrying them: freed lanes, skipped lines, finished files. */
  #collectAdvance(): Watermark | undefined {
    const advance: Record<string, JsonValue> = {};
    for (const lane of this.#freedLanes) advance[laneUnit(lane)] = null;
    this.#freedLanes.clear();
    for (const active of this.#active.values()) {
      if (active.lastEmitted !== null) {
        active.reported = JSON.stringify(active.lastEmitted);
        active.lastEmitted = null;
      }
      const state = laneStateOf(active);
      const text = JSON.stringify(state);
      if (text !== active.reported) {
        advance[laneUnit(active.lane)] = state as unknown as JsonValue;
        active.reported = text;
      }
    }
    if (this.#finishedDirty) {
      advance[FINISHED_UNIT] = encodeFinished(this.#finished);
      this.#finishedDirty = false;
    }
    return Object.keys(advance).length > 0 ? advance : undefined;
  }

  #assertOpen(operation: string): void {
    if (!this.#isOpen) {
      throw new TidemarkError('NOT_CONNECTED', `file source '${this.name}': ${operation}() before open()`, {
        fix: 'Call open() first (the pipeline runtime does).',
      });
    }
  }
}

function fileError(error: unknown, message: string): TidemarkError {
  if (TidemarkError.isInstance(error)) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return new TidemarkError(
    'INTERNAL',
    `${message}: ${error instanceof Error ? error.message : String(error)}`,
    {
      cause: error,
      retriable: true,
      fix:
        code === 'EMFILE' || code === 'ENFILE'
          ? 'Raise the open-file limit (ulimit -n) or match fewer files (tail mode keeps one descriptor per file).'
          : 'Check that the directory and its files are readable; the pipeline resumes from its committed watermark.',
      details: { code },
    },
  );
}

/**
 * Creates a file source from a configuration (validated and defaulted here), for programmatic
 * use outside YAML. Throws CONFIG_INVALID when the configuration does not validate.
 */
export function createFileSource(
  config: FileSourceConfigInput,
  name: string,
  context?: Partial<ConnectorContext>,
): FileSource {
  const parsed = parseConnectorConfig(
    { type: 'file', packageName: '@tidemark/source-file', configSchema: fileSourceConfigSchema },
    config,
    name,
  );
  return new FileSource(parsed, name, context?.logger);
}
