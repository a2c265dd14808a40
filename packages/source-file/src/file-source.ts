import { readdir, stat } from 'node:fs/promises';
import { join, matchesGlob } from 'node:path';
import {
  type ConnectorContext,
  type JsonValue,
  type Logger,
  type ProvenanceColumn,
  type ProvenanceValue,
  type ReadOptions,
  type Source,
  type SourceBatch,
  type SourceCapabilities,
  silentLogger,
  TidemarkError,
  type TidemarkRecord,
  type Watermark,
} from '@tidemark/sdk';
import { type FSWatcher, watch } from 'chokidar';
import { type FileSourceConfig, type FileSourceConfigInput, fileSourceConfigSchema } from './config.js';
import { parseCsvLine } from './csv.js';
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
import { LineSplitter, type SplitLine } from './line-splitter.js';

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
const STAT_CONCURRENCY = 64;
const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

interface ListedFile {
  readonly name: string;
  readonly path: string;
  readonly identity: FileIdentity;
  readonly key: string;
  readonly size: number;
  readonly mtimeNs: bigint;
}

interface ActiveFile {
  readonly lane: number;
  path: string;
  name: string;
  readonly identity: FileIdentity;
  readonly key: string;
  handle: FileDescriptor;
  splitter: LineSplitter;
  line: number;
  head: string;
  headLength: number;
  generation: number;
  mtimeNs: bigint;
  /** When the file was first seen missing from the pattern (renamed away or deleted), or null. */
  departedAt: number | null;
  /** Consecutive listings the file was missing from. */
  departedScans: number;
  csvHeader: string[] | null;
  headerSeen: boolean;
  /** JSON of the lane state last handed to the runtime (in a record position or an advance). */
  reported: string | null;
  lastEmitted: LaneState | null;
}

class BatchBuilder {
  readonly records: TidemarkRecord[] = [];
  bytes = 0;
  constructor(readonly options: ReadOptions) {}

  add(record: TidemarkRecord): void {
    this.records.push(record);
    this.bytes += (record.key?.byteLength ?? 0) + (record.value?.byteLength ?? 0);
  }

  get full(): boolean {
    return this.records.length >= this.options.maxRecords || this.bytes >= this.options.maxBytes;
  }
}

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
  readonly #tokens = new Map<string, { size: number; token: string }>();
  #watcher: FSWatcher | null = null;
  readonly #wakers = new Set<() => void>();
  #scanRequested = true;
  #lastScanAt = 0;

  constructor(config: FileSourceConfig, name: string, logger: Logger = silentLogger) {
    this.#config = config;
    this.name = name;
    this.#logger = logger.child({ source: name, directory: config.directory });
    this.capabilities = Object.freeze({ replay: 'seek', exactlyOnce: true, bounded: !config.watch });
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
    await this.#checkDirectory();
    this.#isOpen = true;
    try {
      if (this.#config.watch) this.#startWatcher();
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
        if (tailing && (this.#scanRequested || Date.now() - this.#lastScanAt >= pollIntervalMs))
          await this.#scan();
        if (!tailing && this.#active.size === 0) await this.#admitNextQueued();
        let finishedOne = false;
        for (const active of this.#readOrder()) {
          const outcome = await this.#pump(active, batch);
          if (outcome === 'finished') finishedOne = true;
          if (outcome !== 'eof') break;
        }
        if (!tailing && this.#active.size === 0 && this.#queue.length === 0) {
          await this.#pruneFinished(await this.#list());
          this.#ended = true;
          break;
        }
        if (finishedOne || batch.full || batch.records.length > 0) break;
        if (!tailing) continue;
        const remaining = deadline - Date.now();
        if (remaining <= 0) break;
        await this.#waitForChange(Math.min(remaining, pollIntervalMs), options.signal);
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
    const watcher = this.#watcher;
    this.#watcher = null;
    await watcher?.close();
    for (const wake of this.#wakers) wake();
    await this.#releaseFiles();
  }

  /** The state `lane/N` of an active file: where its reading stands now. */
  #laneState(active: ActiveFile): LaneState {
    return {
      path: active.path,
      offset: active.splitter.lineStart,
      line: active.line,
      dev: active.identity.dev,
      ino: active.identity.ino,
      birth: active.identity.birth,
      head: active.head,
      headLength: active.headLength,
      generation: active.generation,
    };
  }

  async #checkDirectory(): Promise<void> {
    const { directory } = this.#config;
    let isDirectory = false;
    try {
      isDirectory = (await stat(directory)).isDirectory();
    } catch (cause) {
      throw new TidemarkError(
        'CONFIG_INVALID',
        `file source '${this.name}': cannot read directory ${directory}`,
        {
          cause,
          fix: 'Create the directory or correct `directory`, and let the process read it.',
        },
      );
    }
    if (!isDirectory) {
      throw new TidemarkError(
        'CONFIG_INVALID',
        `file source '${this.name}': ${directory} is not a directory`,
        {
          fix: 'Point `directory` at a directory; use `pattern` to pick files in it.',
        },
      );
    }
  }

  /**
   * Watches the directory (chokidar, depth 0) so appends, new files and renames are seen at
   * once; the poll every `pollIntervalMs` stays as the safety net for missed events.
   */
  #startWatcher(): void {
    try {
      const watcher = watch(this.#config.directory, {
        depth: 0,
        ignoreInitial: true,
        persistent: false,
        alwaysStat: false,
      });
      watcher.on('all', () => this.#requestScan());
      watcher.on('error', (error) => {
        this.#logger.warn({ err: String(error) }, 'directory watcher failed; polling only');
        void watcher.close();
        if (this.#watcher === watcher) this.#watcher = null;
      });
      this.#watcher = watcher;
    } catch (error) {
      this.#logger.warn({ err: String(error) }, 'cannot watch the directory; polling only');
    }
  }

  #requestScan(): void {
    this.#scanRequested = true;
    for (const wake of this.#wakers) wake();
  }

  #waitForChange(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.#wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      this.#wakers.add(done);
    });
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
    const listing = await this.#list();
    if (this.#useLatest && this.#latest === null) {
      this.#latest = new Map();
      for (const listed of listing) this.#latest.set(listed.key, await this.#latestPosition(listed));
    }
    await this.#reconcile(listing);
    this.#lastScanAt = Date.now();
    this.#scanRequested = false;
  }

  /** Reopens the file of a committed lane, wherever it is now; frees the lane when it is gone. */
  async #resume(lane: number, state: LaneState): Promise<void> {
    const located = await this.#locate(state);
    if (located === null) {
      this.#logger.warn(
        { lane, path: state.path, offset: state.offset },
        'file in progress is gone (deleted, or replaced by another file); whatever it held after the committed position is lost',
      );
      this.#freedLanes.add(lane);
      return;
    }
    const { handle, path, size } = located;
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
    active.reported = JSON.stringify(state);
    if (this.#config.format === 'csv' && offset > 0) await this.#loadCsvHeader(active);
  }

  /** Finds and opens the file a lane state describes: at its path, else anywhere in the directory. */
  async #locate(state: LaneState): Promise<{
    handle: FileDescriptor;
    path: string;
    identity: FileIdentity;
    size: number;
    mtimeNs: bigint;
  } | null> {
    const wanted = identityKey(state);
    const tryPath = async (path: string) => {
      let handle: FileDescriptor;
      try {
        handle = await FileDescriptor.open(path);
      } catch {
        return null;
      }
      const stats = await handle.stat().catch(async (error: unknown) => {
        await handle.close();
        throw error;
      });
      const identity = identityOf(stats);
      const headMatches = async (): Promise<boolean> => {
        try {
          return (await fingerprint(handle, state.headLength)) === state.head;
        } catch (error) {
          await handle.close();
          throw error;
        }
      };
      const sameFile =
        stats.isFile() &&
        identityKey(identity) === wanted &&
        (hasBirthTime(identity) ||
          state.headLength === 0 ||
          (stats.size >= BigInt(state.headLength) && (await headMatches())));
      if (!sameFile) {
        await handle.close();
        return null;
      }
      return { handle, path, identity, size: Number(stats.size), mtimeNs: stats.mtimeNs };
    };
    const atPath = await tryPath(state.path);
    if (atPath !== null) return atPath;
    for (const name of await readdir(this.#config.directory)) {
      const path = join(this.#config.directory, name);
      if (path === state.path) continue;
      const stats = await stat(path, { bigint: true }).catch(() => null);
      if (stats === null || identityKey(identityOf(stats)) !== wanted) continue;
      const found = await tryPath(path);
      if (found !== null) return found;
    }
    return null;
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
      splitter: new LineSplitter(this.#config.maxLineBytes, offset),
      line,
      head: '',
      headLength: 0,
      generation: 0,
      mtimeNs: 0n,
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

  /** Lists the regular files matching the pattern, sorted in the configured order. */
  async #list(): Promise<ListedFile[]> {
    const { directory, pattern, order } = this.#config;
    const names = (await readdir(directory)).filter((name) => matchesGlob(name, pattern));
    const listed: ListedFile[] = [];
    for (let index = 0; index < names.length; index += STAT_CONCURRENCY) {
      const slice = names.slice(index, index + STAT_CONCURRENCY);
      const stats = await Promise.all(
        slice.map((name) => stat(join(directory, name), { bigint: true }).catch(() => null)),
      );
      slice.forEach((name, position) => {
        const entry = stats[position];
        if (!entry?.isFile()) return;
        const identity = identityOf(entry);
        listed.push({
          name,
          path: join(directory, name),
          identity,
          key: identityKey(identity),
          size: Number(entry.size),
          mtimeNs: entry.mtimeNs,
        });
      });
    }
    return listed.sort(order === 'name' ? byName : byModificationTime);
  }

  async #scan(): Promise<void> {
    this.#scanRequested = false;
    this.#lastScanAt = Date.now();
    await this.#reconcile(await this.#list());
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
      this.#tokens.set(listed.key, { size: 0, token });
      return token;
    }
    if (cached && (cached.size === listed.size || cached.size >= FINGERPRINT_BYTES)) return cached.token;
    let handle: FileDescriptor;
    try {
      handle = await FileDescriptor.open(listed.path);
    } catch {
      return null;
    }
    try {
      const head = await fingerprint(handle, Math.min(listed.size, FINGERPRINT_BYTES));
      const token = finishedToken(listed.identity, head);
      this.#tokens.set(listed.key, { size: listed.size, token });
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
      this.#requestScan();
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
    const splitter = new LineSplitter(this.#config.maxLineBytes, 0);
    const buffer = Buffer.allocUnsafe(Math.min(this.#config.readBufferBytes, 64 * 1024));
    let position = 0;
    while (position < active.splitter.lineStart) {
      const { bytesRead } = await active.handle.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) break;
      splitter.push(Buffer.from(buffer.subarray(0, bytesRead)));
      position += bytesRead;
      for (let line = splitter.next(); line !== null; line = splitter.next()) {
        if (line.end > active.splitter.lineStart) return;
        if (this.#takeCsvHeader(active, line)) return;
      }
    }
  }

  /** Treats `line` as the header when none was seen yet; returns true when it was taken as such. */
  #takeCsvHeader(active: ActiveFile, line: SplitLine): boolean {
    if (active.headerSeen) return false;
    const bytes = withoutBom(line);
    if (!line.overLimit && isBlank(bytes)) return false;
    active.headerSeen = true;
    const parsed = line.overLimit ? null : parseCsvLine(bytes.toString('utf8'));
    active.csvHeader = parsed !== null && 'fields' in parsed ? parsed.fields : null;
    return true;
  }

  #readOrder(): ActiveFile[] {
    const actives = [...this.#active.values()];
    if (actives.length < 2) return actives;
    return actives.sort(this.#config.order === 'name' ? byName : byModificationTime);
  }

  /**
   * Reads lines of one file into the batch until the batch is full ('full'), the file has no
   * more data for now ('eof') or the file is finished ('finished': its lane is freed).
   */
  async #pump(active: ActiveFile, batch: BatchBuilder): Promise<'full' | 'eof' | 'finished'> {
    while (true) {
      for (let line = active.splitter.next(); line !== null; line = active.splitter.next()) {
        active.line += 1;
        this.#emit(active, line, batch);
        if (batch.full) return 'full';
      }
      if (batch.options.signal.aborted) return 'full';
      const stats = await active.handle.stat();
      const size = Number(stats.size);
      const modified = stats.mtimeNs !== active.mtimeNs;
      active.mtimeNs = stats.mtimeNs;
      const position = active.splitter.readPosition;
      // Truncated: shorter than what was read, or (truncated and rewritten past the read position
      // since the last look) its first bytes changed. Appends never change the first bytes.
      const rewritten = size >= position && modified && (await this.#headChanged(active));
      if (size < position || rewritten) {
        this.#logger.warn(
          { path: active.path, position, size },
          'file was truncated (copytruncate?); reading it again from 0',
        );
        active.generation += 1;
        active.splitter = new LineSplitter(this.#config.maxLineBytes, 0);
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
        active.line += 1;
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
    const compare = this.#config.order === 'name' ? byName : byModificationTime;
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
    const { format } = this.#config;
    let poison: string | undefined;
    let value: Buffer = line.bytes;
    let fields: Record<string, unknown> | undefined;
    const overLimit = (): string =>
      `line of ${line.length} bytes exceeds maxLineBytes (${this.#config.maxLineBytes}); value holds its first bytes`;
    if (format === 'csv' && !active.headerSeen) {
      if (!this.#takeCsvHeader(active, line)) return;
      if (active.csvHeader !== null) return;
      poison = line.overLimit ? overLimit() : 'invalid CSV header row';
    } else if (line.overLimit) {
      poison = overLimit();
    } else if (format !== 'lines') {
      const bytes = withoutBom(line);
      if (isBlank(bytes)) return;
      if (format === 'jsonl') {
        try {
          const parsed: unknown = JSON.parse(bytes.toString('utf8'));
          if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
            fields = parsed as Record<string, unknown>;
        } catch (error) {
          poison = `invalid JSON: ${error instanceof Error ? error.message : String(error)}`;
        }
        value = bytes;
      } else {
        const header = active.csvHeader;
        const parsed = parseCsvLine(bytes.toString('utf8'));
        if (header === null) {
          poison = 'CSV row without a valid header row';
        } else if ('error' in parsed) {
          poison = `invalid CSV: ${parsed.error}`;
        } else if (parsed.fields.length !== header.length) {
          poison = `CSV row has ${parsed.fields.length} fields, the header ${header.length}`;
        } else {
          const row: Record<string, string> = {};
          header.forEach((name, index) => {
            row[name] = parsed.fields[index]!;
          });
          fields = row;
          value = Buffer.from(JSON.stringify(row));
        }
      }
    }
    let rowtime = Number(active.mtimeNs / 1_000_000n);
    let key: Uint8Array | null = null;
    if (fields !== undefined && poison === undefined) {
      const { key: keyField, rowtimeField } = this.#config;
      if (keyField !== undefined && fields[keyField] !== undefined && fields[keyField] !== null) {
        const keyValue = fields[keyField];
        key = Buffer.from(typeof keyValue === 'string' ? keyValue : JSON.stringify(keyValue));
      }
      if (rowtimeField !== undefined) {
        const time = parseRowtime(fields[rowtimeField]);
        if (time === null)
          poison = `rowtimeField '${rowtimeField}' is missing or not epoch milliseconds / ISO-8601`;
        else rowtime = time;
      }
    } else if (poison === undefined && format !== 'lines' && this.#config.rowtimeField !== undefined) {
      poison = `rowtimeField '${this.#config.rowtimeField}' needs a JSON object`;
    }
    const state = this.#laneState(active);
    active.lastEmitted = state;
    const provenance: Record<string, ProvenanceValue> = {
      'file.path': active.path,
      'file.position': line.end,
      'file.line': active.line,
    };
    const record: TidemarkRecord = {
      key,
      value,
      headers: {},
      rowtime,
      provenance,
      position: { unit: laneUnit(active.lane), next: state as unknown as JsonValue },
    };
    if (poison !== undefined) record.poison = poison;
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
      const state = this.#laneState(active);
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

function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function byModificationTime(
  a: { name: string; mtimeNs: bigint },
  b: { name: string; mtimeNs: bigint },
): number {
  return a.mtimeNs < b.mtimeNs ? -1 : a.mtimeNs > b.mtimeNs ? 1 : byName(a, b);
}

function isBlank(bytes: Buffer): boolean {
  for (const byte of bytes) {
    if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0d) return false;
  }
  return true;
}

/** The line's bytes without a UTF-8 byte-order mark when it is the very first line of its file. */
function withoutBom(line: SplitLine): Buffer {
  const start = line.end - line.length - (line.terminated ? 1 : 0);
  return start === 0 && line.bytes.subarray(0, 3).equals(UTF8_BOM) ? line.bytes.subarray(3) : line.bytes;
}

function parseRowtime(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value !== 'string' || value.trim() === '') return null;
  if (/^-?\d+(\.\d+)?$/.test(value.trim())) return Number(value);
  const time = Date.parse(value);
  return Number.isNaN(time) ? null : time;
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
  const parsed = fileSourceConfigSchema.safeParse(config);
  if (!parsed.success) {
    throw new TidemarkError('CONFIG_INVALID', `file source '${name}': ${parsed.error.message}`, {
      fix: 'Correct the file source options listed above.',
    });
  }
  return new FileSource(parsed.data, name, context?.logger);
}
