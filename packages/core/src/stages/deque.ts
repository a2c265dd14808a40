/**
 * A double-ended queue over an array with a moving head: O(1) amortised push and shift at
 * the ends, index access for the monotonic deques of MIN/MAX. Not thread-safe (nothing is).
 */
export class Deque<T> {
  #items: T[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  /** The oldest item, or undefined when empty. */
  get first(): T | undefined {
    return this.#items[this.#head];
  }

  /** The newest item, or undefined when empty. */
  get last(): T | undefined {
    return this.length > 0 ? this.#items[this.#items.length - 1] : undefined;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  /** Removes and returns the newest item. */
  pop(): T | undefined {
    if (this.length === 0) return undefined;
    return this.#items.pop();
  }

  /** Removes and returns the oldest item. */
  shift(): T | undefined {
    if (this.length === 0) return undefined;
    const item = this.#items[this.#head]!;
    this.#items[this.#head] = undefined as T;
    this.#head += 1;
    if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let index = this.#head; index < this.#items.length; index += 1) yield this.#items[index]!;
  }
}
