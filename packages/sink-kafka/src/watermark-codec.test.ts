import { serializeWatermarks, TidemarkError } from '@tidemark/sdk';
import { describe, expect, it } from 'vitest';
import {
  assembleChunks,
  decodeHeader,
  encodeWatermark,
  fromDocument,
  type StoredWatermark,
  toDocument,
} from './watermark-codec.js';

const stored: StoredWatermark = {
  identity: { pipelineId: 'orders', taskId: '2' },
  sequence: 7,
  state: {
    watermarks: { kafka: { 'orders/0': '42', 'orders/1': '7' } },
    rowtime: 1_700_000_000_000,
    committedAt: 5,
  },
};

function largeWatermarkDocument(units: number): string {
  const files: Record<string, { position: string; line: number }> = {};
  for (let index = 0; index < units; index += 1) {
    files[`/srv/data/${index.toString(36)}/${(index * 2654435761).toString(16)}.log`] = {
      position: String(index * 977),
      line: index,
    };
  }
  return toDocument({ ...stored, state: { ...stored.state, watermarks: { files } } });
}

function decodeAll(header: string, chunks: readonly string[], sequence: number): string {
  const decoded = decodeHeader(header, 'g');
  if (decoded.kind === 'inline') return decoded.document;
  const entries = new Map(
    chunks.map((metadata, partition) => [partition, { offset: sequence, metadata }] as const),
  );
  return assembleChunks(decoded, entries, sequence, 'g');
}

function expectInvalid(run: () => unknown, text: string): void {
  try {
    run();
  } catch (error) {
    expect(TidemarkError.hasCode(error, 'WATERMARK_INVALID')).toBe(true);
    expect((error as Error).message).toContain(text);
    return;
  }
  throw new Error('expected WATERMARK_INVALID');
}

describe('watermark codec', () => {
  it('round-trips a document with identity, sequence, rowtime and the canonical watermarks', () => {
    const document = toDocument(stored);
    expect(document.split('\n')[1]).toBe(serializeWatermarks(stored.state.watermarks));
    expect(fromDocument(document, 'g')).toEqual(stored);
  });

  it('stores a small watermark inline and readable', () => {
    const { header, chunks } = encodeWatermark(toDocument(stored), 4096, 'wm');
    expect(header.startsWith('tm1:j:{')).toBe(true);
    expect(chunks).toEqual([]);
    expect(decodeAll(header, chunks, 7)).toBe(toDocument(stored));
  });

  it('compresses a watermark that fits one entry only compressed', () => {
    const document = largeWatermarkDocument(90);
    expect(document.length).toBeGreaterThan(4096);
    const { header, chunks } = encodeWatermark(document, 4096, 'wm');
    expect(header.startsWith('tm1:z:')).toBe(true);
    expect(header.length).toBeLessThanOrEqual(4096);
    expect(chunks).toEqual([]);
    expect(decodeAll(header, chunks, 7)).toBe(document);
  });

  it('chunks a large watermark into entries no larger than the limit', () => {
    const document = largeWatermarkDocument(3_000);
    const { header, chunks } = encodeWatermark(document, 1024, 'wm');
    expect(header).toMatch(/^tm1:c:\d+:[0-9a-f]{64}:wm$/);
    expect(chunks.length).toBeGreaterThan(3);
    for (const chunk of chunks) expect(Buffer.byteLength(chunk)).toBeLessThanOrEqual(1024);
    expect(decodeAll(header, chunks, 7)).toBe(document);
  });

  it('rejects missing, stale, reordered or tampered chunks', () => {
    const { header, chunks } = encodeWatermark(largeWatermarkDocument(3_000), 1024, 'wm');
    const decoded = decodeHeader(header, 'g');
    if (decoded.kind !== 'chunked') throw new Error('expected chunks');
    const entries = (list: readonly string[], offset = 7) =>
      new Map(list.map((metadata, partition) => [partition, { offset, metadata }] as const));
    expectInvalid(() => assembleChunks(decoded, entries(chunks.slice(1)), 7, 'g'), 'chunk 0');
    expectInvalid(() => assembleChunks(decoded, entries(chunks.slice(0, -1)), 7, 'g'), 'missing');
    expectInvalid(() => assembleChunks(decoded, entries(chunks, 6), 7, 'g'), 'belongs to commit 6');
    const tampered = [...chunks];
    tampered[1] = `${tampered[1]!.slice(0, -2)}AA`;
    expectInvalid(() => assembleChunks(decoded, entries(tampered), 7, 'g'), 'hash');
  });

  it('rejects foreign metadata and unknown format versions, naming the group', () => {
    expectInvalid(
      () => decodeHeader('some consumer metadata', 'orders_watermark'),
      "watermark group 'orders_watermark'",
    );
    expectInvalid(() => decodeHeader('tm2:j:{}', 'g'), 'format version 2');
    expectInvalid(() => decodeHeader('tm1:q:x', 'g'), 'unknown entry kind');
    expectInvalid(() => decodeHeader('tm1:z:not-gzip', 'g'), 'does not decompress');
    expectInvalid(() => fromDocument('{"pipelineId":"p"}\n{}', 'g'), 'header');
    expectInvalid(
      () => fromDocument('{"pipelineId":"p","sequence":1,"rowtime":null,"committedAt":null}\n[1]', 'g'),
      'parse',
    );
  });
});
