import { TidemarkError } from '@tidemark/sdk';
import { describe, expect, it } from 'vitest';
import { decodeStoredWatermark, encodeStoredWatermark } from './watermark-document.js';

describe('stored watermark document', () => {
  const stored = {
    identity: { pipelineId: 'orders', taskId: '2' },
    sequence: 7,
    state: {
      watermarks: { in: { 'orders/0': '42', 'orders/1': '9' } },
      rowtime: 1_700_000_000_000,
      committedAt: 1_700_000_001_000,
    },
  };

  it('round-trips in the versioned inline format of the Kafka sink', () => {
    const text = encodeStoredWatermark(stored);
    expect(text.startsWith('tm1:j:{"pipelineId":"orders","taskId":"2","sequence":7,')).toBe(true);
    expect(decodeStoredWatermark(text, 'w')).toEqual(stored);
  });

  it('refuses other versions and foreign text with WATERMARK_INVALID', () => {
    for (const [text, words] of [
      ['tm2:j:{}', 'format version 2'],
      ['hello', 'not written by Tidemark'],
      ['tm1:j:{"pipelineId":"x"}', 'no header line'],
      ['tm1:j:{"pipelineId":"x"}\n{}', 'lacks pipelineId'],
    ] as const) {
      try {
        decodeStoredWatermark(text, 'table w');
        throw new Error('decoded');
      } catch (error) {
        expect(TidemarkError.hasCode(error, 'WATERMARK_INVALID')).toBe(true);
        expect((error as Error).message).toContain(words);
      }
    }
  });
});
