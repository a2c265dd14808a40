import { recordBytes, type TidemarkRecord } from '@tidemark/sdk';

/**
 * FIFO of fetched records waiting for `read`, kept as the fetched chunks (no per-record
 * shifting). Tracks its size in records and payload bytes so the source can pause fetching
 * when it holds too much. Not thread-safe: used from one event loop, never re-entered.
 */
export class RecordQueue {
  #chunks: { records: TidemarkRecord[]; sizes: number[]; index: number }[] = [];
  #count = 0;
  #bytes = 0;

  get count(): number {
    return this.#count;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Appends records in order; the array is kept, not copied: the caller must not reuse it. */
  push(records: TidemarkRecord[]): void {
    if (records.length === 0) return;
    const sizes = new Array<number>(records.length);
    let total = 0;
    for (let index = 0; index < records.length; index += 1) {
      const size = recordBytes(records[index] as TidemarkRecord);
      sizes[index] = size;
      total += size;
    }
    this.#chunks.push({ records, sizes, index: 0 });
    this.#count += records.length;
    this.#bytes += total;
  }

  /**
   * Removes and returns up to `maxRecords` records, stopping once `maxBytes` is reached
   * (at least one record is returned when any is queued, even if it alone exceeds `maxBytes`).
   */
  take(maxRecords: number, maxBytes: number): TidemarkRecord[] {
    const taken: TidemarkRecord[] = [];
    let bytes = 0;
    while (taken.length < maxRecords && this.#chunks.length > 0) {
      const chunk = this.#chunks[0] as { records: TidemarkRecord[]; sizes: number[]; index: number };
      while (chunk.index < chunk.records.length && taken.length < maxRecords) {
        const size = chunk.sizes[chunk.index] as number;
        if (taken.length > 0 && bytes + size > maxBytes) {
          this.#count -= taken.length;
          this.#bytes -= bytes;
          return taken;
        }
        taken.push(chunk.records[chunk.index] as TidemarkRecord);
        bytes += size;
        chunk.index += 1;
      }
      if (chunk.index >= chunk.records.length) this.#chunks.shift();
    }
    this.#count -= taken.length;
    this.#bytes -= bytes;
    return taken;
  }

  /** Drops everything queued. */
  clear(): void {
    this.#chunks = [];
    this.#count = 0;
    this.#bytes = 0;
  }
}
