/**
 * The stored form of a pipeline's committed watermarks: the same versioned format the Kafka
 * sink writes into offset commit metadata, in its inline form, `tm1:j:<document>`, where the
 * document is one line of JSON (pipeline identity, commit sequence, rowtime, committedAt), a
 * newline, then `serializeWatermarks(watermarks)`. A table cell has no size cap, so the
 * compressed and chunked forms of the Kafka sink are never needed here. Pure: no I/O.
 *
 * The document itself is the one every sink stores (`encodeWatermarkDocument` in the SDK).
 */
import {
  decodeWatermarkDocument,
  encodeWatermarkDocument,
  type StoredWatermark,
  TidemarkError,
} from '@tidemark/sdk';

export type { StoredWatermark };

const INLINE = 'tm1:j:';

/** `tm1:j:<document>`: the shared watermark document behind the format prefix. */
export function encodeStoredWatermark(stored: StoredWatermark): string {
  return `${INLINE}${encodeWatermarkDocument(stored)}`;
}

/**
 * Parses what {@link encodeStoredWatermark} wrote. Throws WATERMARK_INVALID naming `where` (the
 * table and pipeline) for text another format version or another program wrote.
 */
export function decodeStoredWatermark(text: string, where: string): StoredWatermark {
  if (!text.startsWith(INLINE)) {
    const version = /^tm(\d+):/.exec(text);
    if (version && version[1] !== '1') {
      throw invalid(
        where,
        `written in watermark format version ${version[1]}, which this version does not read`,
        undefined,
        'Upgrade @tidemark/sink-postgres to the version that wrote this watermark.',
      );
    }
    throw invalid(where, 'the stored watermark was not written by Tidemark');
  }
  return decodeWatermarkDocument(text.slice(INLINE.length), (reason, cause) => invalid(where, reason, cause));
}

function invalid(where: string, reason: string, cause?: unknown, fix?: string): TidemarkError {
  return new TidemarkError('WATERMARK_INVALID', `${where}: ${reason}`, {
    ...(cause === undefined ? {} : { cause }),
    fix:
      fix ??
      `Check that no other program writes ${where}; to start over, delete that row (an explicit reset).`,
    details: { where },
  });
}
