import { createHash } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import type { FileDescriptor } from './file-descriptor.js';

/** Bytes at the start of a file hashed into its fingerprint. */
export const FINGERPRINT_BYTES = 1024;
/** Length of a finished-file token in the watermark (base64url of 64 bits). */
export const TOKEN_LENGTH = 11;

/**
 * What identifies a file across renames: device, inode and birth time (nanoseconds, `'0'` when
 * the file system does not report one). Decimal strings, as they are bigints.
 */
export interface FileIdentity {
  readonly dev: string;
  readonly ino: string;
  readonly birth: string;
}

/** Identity of a file from its bigint stat. */
export function identityOf(stats: BigIntStats): FileIdentity {
  return { dev: stats.dev.toString(), ino: stats.ino.toString(), birth: stats.birthtimeNs.toString() };
}

/** A string equal for equal identities: a map key. */
export function identityKey(identity: FileIdentity): string {
  return `${identity.dev}:${identity.ino}:${identity.birth}`;
}

/** True when the identity carries a birth time (so the fingerprint is only a cross-check). */
export function hasBirthTime(identity: FileIdentity): boolean {
  return identity.birth !== '0';
}

/** Hash of the first `length` bytes of a file: hex, 16 characters. Empty string for length 0. */
export async function fingerprint(handle: FileDescriptor, length: number): Promise<string> {
  if (length === 0) return '';
  const buffer = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return fingerprintOf(buffer.subarray(0, filled));
}

/** Hash of the given leading bytes (see {@link fingerprint}). */
export function fingerprintOf(bytes: Buffer): string {
  if (bytes.length === 0) return '';
  return createHash('sha256').update(bytes).digest('hex').slice(0, 16);
}

/**
 * The compact token a finished file is remembered by: 64 bits of a hash of its identity, plus
 * its fingerprint when the file system reports no birth time (so a reused inode with other
 * content is a new file).
 */
export function finishedToken(identity: FileIdentity, head: string): string {
  const material = hasBirthTime(identity) ? identityKey(identity) : `${identityKey(identity)}:${head}`;
  return createHash('sha256').update(material).digest().subarray(0, 8).toString('base64url');
}
