/**
 * The document a transactional sink stores with every commit: one line of JSON (pipeline
 * identity, commit sequence, rowtime of the last committed row, commit time), a newline, then
 * `serializeWatermarks(watermarks)` verbatim. Every sink stores this same document, so a
 * pipeline's committed state reads the same whatever holds it; how a sink frames it (the Kafka
 * sink's `tm1:` metadata entries, the PostgreSQL sink's `tm1:j:` cell) is the sink's own. Pure:
 * no I/O.
 */
import type { TidemarkError } from './errors.js';
import type { PipelineIdentity } from './sink.js';
import {
  type CommittedState,
  type PipelineWatermarks,
  parseWatermarks,
  serializeWatermarks,
} from './watermark.js';

/** What one commit stores. */
export interface StoredWatermark {
  readonly identity: PipelineIdentity;
  /** Commit sequence number: 1 for the first commit of a pipeline (task), then +1 per commit. */
  readonly sequence: number;
  readonly state: CommittedState;
}

interface DocumentHead {
  pipelineId: string;
  taskId?: string;
  sequence: number;
  rowtime: number | null;
  committedAt: number | null;
}

/** Serialises what one commit stores into the document text. */
export function encodeWatermarkDocument(stored: StoredWatermark): string {
  const head: DocumentHead = {
    pipelineId: stored.identity.pipelineId,
    ...(stored.identity.taskId === undefined ? {} : { taskId: stored.identity.taskId }),
    sequence: stored.sequence,
    rowtime: stored.state.rowtime,
    committedAt: stored.state.committedAt,
  };
  return `${JSON.stringify(head)}\n${serializeWatermarks(stored.state.watermarks)}`;
}

/**
 * Parses a document. Anything malformed throws the error `invalid(reason, cause)` makes: each
 * sink names where the document was read from and what to do (a WATERMARK_INVALID error).
 */
export function decodeWatermarkDocument(
  document: string,
  invalid: (reason: string, cause?: unknown) => TidemarkError,
): StoredWatermark {
  const newline = document.indexOf('\n');
  if (newline < 0) throw invalid('the stored document has no header line');
  let head: unknown;
  try {
    head = JSON.parse(document.slice(0, newline));
  } catch (cause) {
    throw invalid('the stored document header is not JSON', cause);
  }
  if (!isDocumentHead(head)) throw invalid('the stored document header lacks pipelineId/sequence/rowtime');
  let watermarks: PipelineWatermarks;
  try {
    watermarks = parseWatermarks(document.slice(newline + 1));
  } catch (cause) {
    throw invalid('the stored watermarks do not parse', cause);
  }
  return {
    identity:
      head.taskId === undefined
        ? { pipelineId: head.pipelineId }
        : { pipelineId: head.pipelineId, taskId: head.taskId },
    sequence: head.sequence,
    state: { watermarks, rowtime: head.rowtime, committedAt: head.committedAt },
  };
}

function isDocumentHead(value: unknown): value is DocumentHead {
  if (typeof value !== 'object' || value === null) return false;
  const head = value as Record<string, unknown>;
  return (
    typeof head.pipelineId === 'string' &&
    (head.taskId === undefined || typeof head.taskId === 'string') &&
    typeof head.sequence === 'number' &&
    Number.isSafeInteger(head.sequence) &&
    head.sequence >= 0 &&
    (head.rowtime === null || typeof head.rowtime === 'number') &&
    (head.committedAt === null || typeof head.committedAt === 'number')
  );
}
