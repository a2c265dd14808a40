import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Deque } from './deque.js';
import { Heap } from './heap.js';

describe('Heap', () => {
  it('pops in sorted order under any sequence of pushes and pops', () => {
    fc.assert(
      fc.property(
        fc.array(fc.option(fc.integer({ min: -50, max: 50 }), { nil: undefined })),
        (operations) => {
          const heap = new Heap<number>((a, b) => a - b);
          const model: number[] = [];
          for (const operation of operations) {
            if (operation === undefined) {
              model.sort((a, b) => a - b);
              expect(heap.pop()).toBe(model.shift());
            } else {
              heap.push(operation);
              model.push(operation);
            }
            expect(heap.size).toBe(model.length);
            expect(heap.peek()).toBe(model.length === 0 ? undefined : Math.min(...model));
          }
        },
      ),
    );
  });
});

describe('Deque', () => {
  it('behaves as an array at both ends, across compactions', () => {
    const deque = new Deque<number>();
    const model: number[] = [];
    for (let index = 0; index < 5_000; index += 1) {
      deque.push(index);
      model.push(index);
      if (index % 3 === 0) expect(deque.shift()).toBe(model.shift());
      if (index % 7 === 0) expect(deque.pop()).toBe(model.pop());
    }
    expect(deque.length).toBe(model.length);
    expect(deque.first).toBe(model[0]);
    expect(deque.last).toBe(model.at(-1));
    expect([...deque]).toEqual(model);
    while (model.length > 0) expect(deque.shift()).toBe(model.shift());
    expect([deque.shift(), deque.pop(), deque.first, deque.last]).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });
});
