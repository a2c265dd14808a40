import type { TidemarkRecord } from '@tidemark/core';
import { describe, expect, it } from 'vitest';
import { composeTransforms } from './transforms.js';

const record = (value: string): TidemarkRecord => ({
  key: null,
  value: Buffer.from(value),
  headers: {},
  rowtime: 0,
  provenance: {},
  position: { unit: 'u', next: 1 },
});
const text = (item: TidemarkRecord) => Buffer.from(item.value ?? []).toString();

describe('composeTransforms', () => {
  it('is undefined for no steps and the step itself for one', () => {
    const step = (item: TidemarkRecord) => item;
    expect(composeTransforms([])).toBeUndefined();
    expect(composeTransforms([step])).toBe(step);
  });

  it('chains map, flatMap and filter in order', async () => {
    const split = (item: TidemarkRecord) => text(item).split(',').map(record);
    const dropB = (item: TidemarkRecord) => (text(item) === 'b' ? null : item);
    const upper = async (item: TidemarkRecord) => record(text(item).toUpperCase());
    const composed = composeTransforms([split, dropB, upper])!;
    const result = (await composed(record('a,b,c'))) as TidemarkRecord[];
    expect(result.map(text)).toEqual(['A', 'C']);
  });

  it('stops early when a step drops everything, and propagates throws', async () => {
    let called = false;
    const composed = composeTransforms([
      () => null,
      (item: TidemarkRecord) => {
        called = true;
        return item;
      },
    ])!;
    expect(await composed(record('x'))).toEqual([]);
    expect(called).toBe(false);
    const failing = composeTransforms([
      (item: TidemarkRecord) => item,
      () => {
        throw new Error('bad record');
      },
    ])!;
    await expect(failing(record('x'))).rejects.toThrow('bad record');
  });
});
