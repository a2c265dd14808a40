import { describe, expect, it } from 'vitest';
import type { TidemarkRecord } from './record.js';
import { composeTransforms, labelTransform } from './transforms.js';

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
  it('is undefined for no steps', () => {
    expect(composeTransforms([])).toBeUndefined();
  });

  it('makes a wrong output poison naming the transform and what it returned', async () => {
    const cases: [unknown, string][] = [
      [undefined, 'returned undefined, which is not a record object'],
      ['text', 'returned the string "text", which is not a record object'],
      [{ value: Buffer.from('x') }, 'which has a key that is undefined'],
      [{ ...record('x'), value: 'x' }, 'has a value that is the string "x", not bytes or null'],
      [{ ...record('x'), position: undefined }, 'has no position'],
      [[record('a'), 5], 'returned an array whose item 1 is not a record object'],
    ];
    for (const [output, expected] of cases) {
      const step = labelTransform(() => output as TidemarkRecord, './enrich.ts#default');
      const error = await Promise.resolve(composeTransforms([step])!(record('x'))).catch(
        (thrown: unknown) => thrown,
      );
      expect((error as { code?: string }).code).toBe('POISON_RECORD');
      expect((error as Error).message).toContain('transform ./enrich.ts#default ');
      expect((error as Error).message).toContain(expected);
    }
    const identity = (item: TidemarkRecord) => item;
    const error = await Promise.resolve(
      composeTransforms([() => undefined as unknown as null, identity])!(record('x')),
    ).catch((thrown: unknown) => thrown);
    expect((error as Error).message).toContain('step 1 returned undefined');
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
    await expect(failing(record('x'))).rejects.toThrow('transform step 2 threw Error: bad record');
  });
});
