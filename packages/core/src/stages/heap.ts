/** A binary min-heap under `compare` (negative: a before b). O(log n) push and pop. */
export class Heap<T> {
  readonly #items: T[] = [];
  constructor(readonly compare: (a: T, b: T) => number) {}

  get size(): number {
    return this.#items.length;
  }

  /** The least item, or undefined when empty. */
  peek(): T | undefined {
    return this.#items[0];
  }

  push(item: T): void {
    const items = this.#items;
    items.push(item);
    let index = items.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (this.compare(items[index]!, items[parent]!) >= 0) break;
      [items[index], items[parent]] = [items[parent]!, items[index]!];
      index = parent;
    }
  }

  /** Removes and returns the least item. */
  pop(): T | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (items.length === 0 || last === undefined) return top;
    items[0] = last;
    let index = 0;
    for (;;) {
      const left = index * 2 + 1;
      const right = left + 1;
      let least = index;
      if (left < items.length && this.compare(items[left]!, items[least]!) < 0) least = left;
      if (right < items.length && this.compare(items[right]!, items[least]!) < 0) least = right;
      if (least === index) return top;
      [items[index], items[least]] = [items[least]!, items[index]!];
      index = least;
    }
  }
}
