import {
  type CommittedState,
  EMPTY_COMMITTED_STATE,
  identityName,
  type JsonValue,
  type Logger,
  type PipelineIdentity,
  type PipelineWatermarks,
  silentLogger,
  sleep,
  TidemarkError,
  type Watermark,
} from '@tidemark/sdk';
import { createConfiguredClient } from './client-factory.js';
import {
  type KafkaSinkConfig,
  type KafkaSinkConfigInput,
  parseKafkaSinkConfig,
  resolveWatermarkGroup,
} from './config.js';
import type { KafkaAdmin, KafkaClientFactory, OffsetEntry } from './kafka-client.js';
import {
  assembleChunks,
  decodeHeader,
  encodeWatermark,
  fromDocument,
  invalid,
  type StoredWatermark,
  toDocument,
} from './watermark-codec.js';

/** Partition of the sink topic whose offset commit entry holds the watermark header. */
export const HEADER_PARTITION = 0;

/** How often a chunked read whose header and chunks straddle a commit is repeated. */
const TORN_READ_ATTEMPTS = 8;
const TORN_READ_PAUSE_MS = 50;

/**
 * Reads what the watermark group of `identity` holds. Returns null when the group has never
 * committed. Throws WATERMARK_INVALID (naming the group) for corrupt or foreign metadata, or
 * when the group holds another pipeline's watermark.
 *
 * A chunked watermark's header and chunks come from two OffsetFetch requests, so a commit
 * applied between them shows chunks of a newer commit than the header: such a torn read is
 * repeated (header first again), never reported as corruption.
 */
export async function readStoredWatermark(
  admin: KafkaAdmin,
  config: KafkaSinkConfig,
  identity: PipelineIdentity,
): Promise<StoredWatermark | null> {
  for (let attempt = 1; ; attempt += 1) {
    const read = await readOnce(admin, config, identity);
    if (read.kind === 'read') return read.stored;
    if (attempt >= TORN_READ_ATTEMPTS) {
      throw new TidemarkError(
        'WATERMARK_INVALID',
        `watermark group '${read.group}': ${read.reason}, in ${attempt} reads in a row (commits land faster than the watermark can be read)`,
        {
          retriable: true,
          fix: 'Nothing to do: the read is retried. It cannot settle only while commits follow each other within milliseconds; read again, or when the pipeline is stopped.',
          details: { group: read.group },
        },
      );
    }
    await sleep(TORN_READ_PAUSE_MS);
  }
}

type ReadAttempt =
  | { readonly kind: 'read'; readonly stored: StoredWatermark | null }
  | { readonly kind: 'torn'; readonly group: string; readonly reason: string };

async function readOnce(
  admin: KafkaAdmin,
  config: KafkaSinkConfig,
  identity: PipelineIdentity,
): Promise<ReadAttempt> {
  const group = resolveWatermarkGroup(config, identity);
  if ((await admin.partitionCount(config.topic)) === null) return { kind: 'read', stored: null };
  const entries = await admin.fetchOffsets(group, config.topic, [HEADER_PARTITION]);
  const headerEntry = entries.find((entry) => entry.partition === HEADER_PARTITION);
  if (!headerEntry || headerEntry.offset < 0) return { kind: 'read', stored: null };
  if (headerEntry.metadata === null || headerEntry.metadata === '') {
    throw invalid(
      group,
      `partition ${HEADER_PARTITION} of '${config.topic}' has an offset but no watermark metadata`,
    );
  }
  const header = decodeHeader(headerEntry.metadata, group);
  let document: string;
  if (header.kind === 'inline') {
    document = header.document;
  } else {
    const chunkEntries = await admin.fetchOffsets(
      group,
      header.topic,
      Array.from({ length: header.count }, (_, index) => index),
    );
    const byPartition = new Map(chunkEntries.map((entry) => [entry.partition, entry] as const));
    for (let index = 0; index < header.count; index += 1) {
      const chunkOffset = byPartition.get(index)?.offset ?? -1;
      if (chunkOffset > headerEntry.offset) {
        const reason = `chunk ${index} belongs to commit ${chunkOffset}, the header to commit ${headerEntry.offset}`;
        return { kind: 'torn', group, reason };
      }
    }
    document = assembleChunks(header, byPartition, headerEntry.offset, group);
  }
  const stored = fromDocument(document, group);
  if (stored.sequence !== headerEntry.offset) {
    throw invalid(
      group,
      `the header offset ${headerEntry.offset} disagrees with the stored sequence ${stored.sequence}`,
    );
  }
  if (stored.identity.pipelineId !== identity.pipelineId || stored.identity.taskId !== identity.taskId) {
    throw invalid(
      group,
      `it holds the watermark of pipeline '${identityName(stored.identity)}', not '${identityName(identity)}'`,
      undefined,
      'Give each pipeline its own watermarkGroup (keep {pipeline} in it, as the default does).',
    );
  }
  return { kind: 'read', stored };
}

/**
 * Reads the stored watermark until two reads `settleMs` apart agree on its commit sequence (at
 * most `attempts` extra reads). The group coordinator applies a committed transaction's offsets
 * shortly after the commit returns (kafkajs 2.2.4 cannot ask OffsetFetch for stable offsets),
 * so a single read right after a commit, a fencing or a crash can still see the previous one.
 * An admin with `stableReads` (OffsetFetch with require_stable) reads once.
 */
export async function readSettledWatermark(
  admin: KafkaAdmin,
  config: KafkaSinkConfig,
  identity: PipelineIdentity,
  { settleMs = 150, attempts = 10 }: { settleMs?: number; attempts?: number } = {},
): Promise<StoredWatermark | null> {
  let previous = await readStoredWatermark(admin, config, identity);
  if (admin.stableReads) return previous;
  for (let attempt = 0; attempt < attempts; attempt += 1) {
    await sleep(settleMs);
    const current = await readStoredWatermark(admin, config, identity);
    if ((current?.sequence ?? 0) === (previous?.sequence ?? 0)) return current;
    previous = current;
  }
  return previous;
}

/**
 * Builds the offset commit entries for one commit: the header on partition 0 of the sink topic,
 * and chunk entries on the watermark topic when needed. Every entry's offset is `stored.sequence`.
 */
export function watermarkEntries(config: KafkaSinkConfig, stored: StoredWatermark): OffsetEntry[] {
  const encoded = encodeWatermark(toDocument(stored), config.offsetMetadataMaxBytes, config.watermarkTopic);
  const entries: OffsetEntry[] = [
    { topic: config.topic, partition: HEADER_PARTITION, offset: stored.sequence, metadata: encoded.header },
  ];
  encoded.chunks.forEach((metadata, partition) => {
    entries.push({ topic: config.watermarkTopic, partition, offset: stored.sequence, metadata });
  });
  return entries;
}

/** Options of the read-back functions. */
export interface ReadWatermarksOptions {
  readonly logger?: Logger;
  /** Replaces the client the `client` option names (tests, another client library). */
  readonly clientFactory?: KafkaClientFactory;
}

/**
 * Reads the committed state of `identity` without fencing anyone: the watermark of every
 * source, the rowtime of the last committed row and the commit time (like SQLstream's
 * `watermark_offsets` and `watermark_timestamp`). A commit still pending is waited for on the
 * platformatic client (stable reads); on kafkajs, reads repeat until two agree.
 * Throws CONFIG_INVALID (a ConfigError) for a bad config, CONNECTION_FAILED, or WATERMARK_INVALID.
 */
export async function readWatermarks(
  config: KafkaSinkConfigInput,
  identity: PipelineIdentity,
  options: ReadWatermarksOptions = {},
): Promise<CommittedState> {
  const parsed = parseKafkaSinkConfig(config);
  const factory = options.clientFactory ?? createConfiguredClient;
  const admin = factory(parsed, options.logger ?? silentLogger).createAdmin();
  try {
    await admin.connect();
    const stored = await readSettledWatermark(admin, parsed, identity);
    return stored?.state ?? EMPTY_COMMITTED_STATE;
  } finally {
    await admin.disconnect();
  }
}

/** The committed watermark of source `sourceName` (unit → position), or null when it never committed. */
export async function readWatermarkOffsets(
  config: KafkaSinkConfigInput,
  identity: PipelineIdentity,
  sourceName: string,
  options: ReadWatermarksOptions = {},
): Promise<Watermark | null> {
  return watermarkOf((await readWatermarks(config, identity, options)).watermarks, sourceName);
}

/** The rowtime (epoch ms) of the last committed row, or null when nothing committed yet. */
export async function readWatermarkTimestamp(
  config: KafkaSinkConfigInput,
  identity: PipelineIdentity,
  options: ReadWatermarksOptions = {},
): Promise<number | null> {
  return (await readWatermarks(config, identity, options)).rowtime;
}

/** The watermark of one source out of pipeline watermarks, or null. */
export function watermarkOf(watermarks: PipelineWatermarks, sourceName: string): Watermark | null {
  return Object.hasOwn(watermarks, sourceName)
    ? (watermarks[sourceName] as Readonly<Record<string, JsonValue>>)
    : null;
}
