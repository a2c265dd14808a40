import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ReadOptions, TidemarkRecord } from '@tidemark/sdk';
import type { CsvHeaderState } from './decode.js';
import { FileDescriptor } from './file-descriptor.js';
import type { LaneState } from './file-watermark.js';
import { type FileIdentity, fingerprint, hasBirthTime, identityKey, identityOf } from './identity.js';
import type { LineSplitter } from './line-splitter.js';

/**
 * A file being read, in its lane. The lane number is the watermark unit (`lane/N`); the state
 * a lane reports ({@link laneStateOf}) resumes the file exactly after the last line handed out.
 */
export interface ActiveFile extends CsvHeaderState {
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
  /** Modification time from the latest look at the file (a listing or a read): orders files. */
  mtimeNs: bigint;
  /**
   * Modification time the reading loop itself last saw. Listings do not touch it: a listing
   * that saw a truncated and rewritten file first must not hide that change from the reader.
   */
  readMtimeNs: bigint;
  /** When the file was first seen missing from the pattern (renamed away or deleted), or null. */
  departedAt: number | null;
  /** Consecutive listings the file was missing from. */
  departedScans: number;
  /** JSON of the lane state last handed to the runtime (in a record position or an advance). */
  reported: string | null;
  lastEmitted: LaneState | null;
}

/** The state `lane/N` of an active file: where its reading stands now. */
export function laneStateOf(active: ActiveFile): LaneState {
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

/** The records of one `read`, with its limits. */
export class BatchBuilder {
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

/** Finds and opens the file a lane state describes: at its path, else anywhere in `directory`. */
export async function locateLaneFile(
  directory: string,
  state: LaneState,
): Promise<{
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
  for (const name of await readdir(directory)) {
    const path = join(directory, name);
    if (path === state.path) continue;
    const stats = await stat(path, { bigint: true }).catch(() => null);
    if (stats === null || identityKey(identityOf(stats)) !== wanted) continue;
    const found = await tryPath(path);
    if (found !== null) return found;
  }
  return null;
}
