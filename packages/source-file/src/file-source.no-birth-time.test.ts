import { mkdtempSync, rmSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TidemarkRecord } from '@tidemark/sdk';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createFileSource, type FileSource } from './file-source.js';

/** Inode numbers reported as another: a file the file system did not give the inode a test expected. */
const inodeAliases = vi.hoisted(() => new Map<string, string>());

// A file system without birth times (NFS, some FUSE mounts): every identity reports birth '0'.
vi.mock('./identity.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('./identity.js')>();
  return {
    ...original,
    identityOf: (stats: Parameters<typeof original.identityOf>[0]) => {
      const identity = original.identityOf(stats);
      return { ...identity, ino: inodeAliases.get(identity.ino) ?? identity.ino, birth: '0' };
    },
  };
});

let directory: string;
let source: FileSource | undefined;

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'tidemark-file-nobirth-'));
});

afterEach(async () => {
  inodeAliases.clear();
  await source?.close();
  rmSync(directory, { recursive: true, force: true });
});

async function readLines(from: FileSource, count: number, timeoutMs: number): Promise<string[]> {
  const lines: string[] = [];
  const deadline = Date.now() + timeoutMs;
  while (lines.length < count && Date.now() < deadline) {
    const batch = await from.read({
      signal: new AbortController().signal,
      maxRecords: 1_000,
      maxBytes: 1 << 20,
      maxWaitMs: 50,
    });
    lines.push(...batch.records.map((record: TidemarkRecord) => Buffer.from(record.value!).toString()));
  }
  return lines;
}

describe('file source without birth times', () => {
  it('reads a finished file replaced by a new file that reuses its inode, while running', async () => {
    const old = join(directory, 'a.log');
    // Over 1 KiB, so a cache by size alone would keep the old token.
    writeFileSync(
      old,
      Array.from({ length: 40 }, (_, index) => `old line ${index} ${'x'.repeat(40)}`).join('\n') + '\n',
    );
    utimesSync(old, 1_000, 1_000);
    writeFileSync(join(directory, 'b.log'), 'b1\n');
    source = createFileSource({ directory, pollIntervalMs: 25, finishIdleMs: 50 }, 'files');
    await source.open(null);
    expect(await readLines(source, 41, 5_000)).toHaveLength(41);
    // Let a.log be finished and its token cached by a few listings.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await readLines(source, 1, 200)).toEqual([]);
    const inode = statSync(old).ino;
    unlinkSync(old);
    const fresh = Array.from({ length: 60 }, (_, index) => `new line ${index} ${'y'.repeat(40)}`);
    writeFileSync(old, `${fresh.join('\n')}\n`);
    utimesSync(old, 1_000, 1_000);
    // The premise of the case: the new file took the old inode. ext4 usually hands a freed inode
    // to the next new file, but not always (files created meanwhile elsewhere take it); then the
    // new file's inode is reported as the old one, as a file system that reuses it would.
    const reused = statSync(old).ino;
    if (reused !== inode) inodeAliases.set(String(reused), String(inode));
    expect(await readLines(source, 60, 5_000)).toEqual(fresh);
  });
});
