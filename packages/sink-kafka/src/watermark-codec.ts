/**
 * How committed watermarks are stored in the metadata of a transactional offset commit.
 *
 * The stored *document* is one line of JSON (pipeline identity, commit sequence, rowtime,
 * committedAt), a newline, then `serializeWatermarks(watermarks)` verbatim. It is written as
 * the metadata of offset commit entries of the pipeline's watermark group, every entry
 * prefixed with the format version `tm1:`:
 *
 * - `tm1:j:<document>` — the document as it is, when it fits in one entry;
 * - `tm1:z:<base64(gzip(document))>` — compressed, when that fits in one entry;
 * - otherwise the compressed text is cut into chunks, chunk `i` committed on partition `i` of
 *   the watermark topic as `tm1:p:<i>:<slice>`, and the header entry reads
 *   `tm1:c:<count>:<sha256 of the compressed text, hex>:<watermark topic>`.
 *
 * The header entry is always partition 0 of the sink topic; every entry of one commit carries
 * the commit sequence number as its offset. All entries go in one TxnOffsetCommit inside the
 * transaction, so they commit (or vanish) together with the data. Each entry's metadata is at
 * most `maxBytes` UTF-8 bytes (the brokers' `offset.metadata.max.bytes`).
 */
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import {
  decodeWatermarkDocument,
  encodeWatermarkDocument,
  type StoredWatermark,
  TidemarkError,
} from '@tidemark/sdk';

export type { StoredWatermark };

export const FORMAT_PREFIX = 'tm1:';
const INLINE = `${FORMAT_PREFIX}j:`;
const COMPRESSED = `${FORMAT_PREFIX}z:`;
const CHUNKED = `${FORMAT_PREFIX}c:`;
const CHUNK = `${FORMAT_PREFIX}p:`;

/** The offset commit entries for one commit: the header, and chunks when the header cannot hold it all. */
export interface EncodedWatermark {
  readonly header: string;
  /** Chunk `i` belongs on partition `i` of the watermark topic; empty when inline. */
  readonly chunks: readonly string[];
}

/** The header entry, decoded. */
export type WatermarkHeader =
  | { readonly kind: 'inline'; readonly document: string }
  | { readonly kind: 'chunked'; readonly count: number; readonly hash: string; readonly topic: string };

/** Serialises what one commit stores into the document text (the format every sink shares). */
export function toDocument(stored: StoredWatermark): string {
  return encodeWatermarkDocument(stored);
}

/** Parses a document; throws WATERMARK_INVALID (naming `group`) on anything malformed. */
export function fromDocument(document: string, group: string): StoredWatermark {
  return decodeWatermarkDocument(document, (reason, cause) => invalid(group, reason, cause));
}

/**
 * Encodes a document into offset commit metadata, each entry at most `maxBytes` UTF-8 bytes.
 * `chunkTopic` is named in the header when chunks are needed.
 */
export function encodeWatermark(document: string, maxBytes: number, chunkTopic: string): EncodedWatermark {
  const inline = INLINE + document;
  if (Buffer.byteLength(inline, 'utf8') <= maxBytes) return { header: inline, chunks: [] };
  const compressed = gzipSync(Buffer.from(document, 'utf8'), { level: 6 }).toString('base64');
  if (COMPRESSED.length + compressed.length <= maxBytes)
    return { header: COMPRESSED + compressed, chunks: [] };
  // Room for the prefix and the largest index this encoding could need.
  const room = maxBytes - CHUNK.length - String(compressed.length).length - 1;
  const chunks: string[] = [];
  for (let start = 0, index = 0; start < compressed.length; start += room, index += 1) {
    chunks.push(`${CHUNK}${index}:${compressed.slice(start, start + room)}`);
  }
  const header = `${CHUNKED}${chunks.length}:${sha256(compressed)}:${chunkTopic}`;
  if (header.length > maxBytes) {
    throw new TidemarkError(
      'CONFIG_INVALID',
      `watermark topic name '${chunkTopic}' is too long for the header`,
    );
  }
  return { header, chunks };
}

/**
 * Decodes the header entry's metadata. Throws WATERMARK_INVALID (naming `group`) for metadata
 * that Tidemark did not write or that a newer format version wrote.
 */
export function decodeHeader(metadata: string, group: string): WatermarkHeader {
  if (!metadata.startsWith(FORMAT_PREFIX)) {
    const version = /^tm(\d+):/.exec(metadata);
    if (version) {
      throw invalid(
        group,
        `written in watermark format version ${version[1]}, which this version does not read`,
        undefined,
        'Upgrade @tidemark/sink-kafka to the version that wrote this watermark.',
      );
    }
    throw invalid(group, 'the offset metadata was not written by Tidemark');
  }
  if (metadata.startsWith(INLINE)) return { kind: 'inline', document: metadata.slice(INLINE.length) };
  if (metadata.startsWith(COMPRESSED)) {
    return { kind: 'inline', document: gunzipText(metadata.slice(COMPRESSED.length), group) };
  }
  if (metadata.startsWith(CHUNKED)) {
    const match = /^(\d+):([0-9a-f]{64}):(.+)$/.exec(metadata.slice(CHUNKED.length));
    if (!match) throw invalid(group, 'the chunked watermark header is malformed');
    return { kind: 'chunked', count: Number(match[1]), hash: match[2]!, topic: match[3]! };
  }
  throw invalid(group, 'the offset metadata has an unknown entry kind');
}

/**
 * Reassembles a chunked document from the chunk entries (metadata by partition, with the
 * offset each was committed at). Every chunk must carry `sequence` and the hash must match.
 */
export function assembleChunks(
  header: Extract<WatermarkHeader, { kind: 'chunked' }>,
  entries: ReadonlyMap<number, { readonly offset: number; readonly metadata: string | null }>,
  sequence: number,
  group: string,
): string {
  const parts: string[] = [];
  for (let index = 0; index < header.count; index += 1) {
    const entry = entries.get(index);
    if (!entry || entry.metadata === null)
      throw invalid(group, `chunk ${index} of ${header.count} is missing`);
    if (entry.offset !== sequence) {
      throw invalid(
        group,
        `chunk ${index} belongs to commit ${entry.offset}, the header to commit ${sequence}`,
      );
    }
    const prefix = `${CHUNK}${index}:`;
    if (!entry.metadata.startsWith(prefix)) throw invalid(group, `chunk ${index} is malformed`);
    parts.push(entry.metadata.slice(prefix.length));
  }
  const compressed = parts.join('');
  if (sha256(compressed) !== header.hash) throw invalid(group, 'the chunks do not match the header hash');
  return gunzipText(compressed, group);
}

function gunzipText(base64: string, group: string): string {
  try {
    return gunzipSync(Buffer.from(base64, 'base64')).toString('utf8');
  } catch (cause) {
    throw invalid(group, 'the compressed watermark does not decompress', cause);
  }
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** A WATERMARK_INVALID error naming the watermark group. */
export function invalid(group: string, reason: string, cause?: unknown, fix?: string): TidemarkError {
  return new TidemarkError('WATERMARK_INVALID', `watermark group '${group}': ${reason}`, {
    ...(cause === undefined ? {} : { cause }),
    fix:
      fix ??
      `Check that no other program commits offsets for group '${group}' (each pipeline needs its own watermarkGroup). Do not delete the group: the pipeline would restart from its sources' configured start. To move a stopped pipeline deliberately, run 'tidemark watermarks reset --to <target>'.`,
    details: { group },
  });
}
