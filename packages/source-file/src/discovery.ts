import { readdir, stat } from 'node:fs/promises';
import { join, matchesGlob } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { type Logger, sliceOwns, stableUnitHash, TidemarkError } from '@tidemark/sdk';
import { type FSWatcher, watch } from 'chokidar';
import type { FileSourceConfig } from './config.js';
import { type FileIdentity, identityKey, identityOf } from './identity.js';

/** A file of a directory listing. */
export interface ListedFile {
  readonly name: string;
  readonly path: string;
  readonly identity: FileIdentity;
  /** {@link identityKey} of `identity`. */
  readonly key: string;
  readonly size: number;
  readonly mtimeNs: bigint;
}

const STAT_CONCURRENCY = 64;

export function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

export function byModificationTime(
  a: { name: string; mtimeNs: bigint },
  b: { name: string; mtimeNs: bigint },
): number {
  return a.mtimeNs < b.mtimeNs ? -1 : a.mtimeNs > b.mtimeNs ? 1 : byName(a, b);
}

/**
 * Discovery of a file source's files: lists the regular files of the directory that match
 * the pattern, in the configured order, and (tail mode) watches the directory so appends, new
 * files and renames are seen at once; the poll every `pollIntervalMs` stays as the safety net
 * for missed events. Owned by one FileSource; never called concurrently.
 */
export class DirectoryDiscovery {
  readonly #config: FileSourceConfig;
  readonly #logger: Logger;
  readonly #sourceName: string;
  #watcher: FSWatcher | null = null;
  /** Aborted (and replaced) whenever a change is seen: wakes a waiting read. */
  #changed = new AbortController();
  #scanRequested = true;
  #lastScanAt = 0;

  constructor(config: FileSourceConfig, sourceName: string, logger: Logger) {
    this.#config = config;
    this.#sourceName = sourceName;
    this.#logger = logger;
  }

  /** The listing order of the configuration. */
  get compare(): (a: { name: string; mtimeNs: bigint }, b: { name: string; mtimeNs: bigint }) => number {
    return this.#config.order === 'name' ? byName : byModificationTime;
  }

  /** Throws CONFIG_INVALID (with a fix) when the directory is missing, unreadable or no directory. */
  async checkDirectory(): Promise<void> {
    const { directory } = this.#config;
    let isDirectory = false;
    try {
      isDirectory = (await stat(directory)).isDirectory();
    } catch (cause) {
      throw new TidemarkError(
        'CONFIG_INVALID',
        `file source '${this.#sourceName}': cannot read directory ${directory}`,
        { cause, fix: 'Create the directory or correct `directory`, and let the process read it.' },
      );
    }
    if (!isDirectory) {
      throw new TidemarkError(
        'CONFIG_INVALID',
        `file source '${this.#sourceName}': ${directory} is not a directory`,
        { fix: 'Point `directory` at a directory; use `pattern` to pick files in it.' },
      );
    }
  }

  /** Starts watching the directory (chokidar, depth 0). A watcher that fails leaves polling only. */
  startWatching(): void {
    try {
      const watcher = watch(this.#config.directory, {
        depth: 0,
        ignoreInitial: true,
        persistent: false,
        alwaysStat: false,
      });
      watcher.on('all', () => this.requestScan());
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

  /** Stops watching and wakes any waiting read. Idempotent. */
  async close(): Promise<void> {
    const watcher = this.#watcher;
    this.#watcher = null;
    await watcher?.close();
    this.#wake();
  }

  /** Asks for a listing at the next chance and wakes a waiting read. */
  requestScan(): void {
    this.#scanRequested = true;
    this.#wake();
  }

  /** True when a change was seen or `pollIntervalMs` passed since the last listing. */
  get scanDue(): boolean {
    return this.#scanRequested || Date.now() - this.#lastScanAt >= this.#config.pollIntervalMs;
  }

  /** Lists the files and marks the scan done. */
  async scan(): Promise<ListedFile[]> {
    this.#scanRequested = false;
    this.#lastScanAt = Date.now();
    return this.list();
  }

  /** Waits up to `ms`, or less when a change is seen or `signal` aborts. Never rejects. */
  async waitForChange(ms: number, signal: AbortSignal): Promise<void> {
    await delay(ms, undefined, { signal: AbortSignal.any([signal, this.#changed.signal]) }).catch(
      () => undefined,
    );
  }

  /** Lists the regular files matching the pattern, sorted in the configured order. */
  async list(): Promise<ListedFile[]> {
    const { directory, pattern } = this.#config;
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
        if (!sliceOwns(this.#config.task, stableUnitHash(identityKey(identity)))) return;
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
    return listed.sort(this.compare);
  }

  #wake(): void {
    this.#changed.abort();
    this.#changed = new AbortController();
  }
}
