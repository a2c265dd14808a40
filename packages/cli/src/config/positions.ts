import { type ConfigPath, joinConfigPath } from '@tidemark/sdk';
import { type Document, isMap, isNode, isPair, isScalar, isSeq, type LineCounter, type Node } from 'yaml';

/** A location in the configuration file (1-based line and column). */
export interface Position {
  readonly line: number;
  readonly column: number;
}

/** Formats a path as `pipelines[0].sources[1].brokers`. */
export function formatPath(path: ConfigPath): string {
  return joinConfigPath('', path) || '(root)';
}

/**
 * Maps configuration paths to file positions. For a path that does not exist in the file (a
 * missing option) the position of its nearest existing parent is returned; for `key: true` the
 * position of the key itself (for unknown options).
 */
export class PositionMap {
  readonly #document: Document;
  readonly #lines: LineCounter;

  constructor(document: Document, lines: LineCounter) {
    this.#document = document;
    this.#lines = lines;
  }

  /** The position of the value at `path`, or of the key when `key` is set. */
  find(path: ConfigPath, options: { key?: boolean } = {}): Position | undefined {
    let node: unknown = this.#document.contents;
    let best: Node | undefined = isNode(node) ? node : undefined;
    for (const segment of path) {
      if (isMap(node)) {
        const pair = node.items.find(
          (item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(segment),
        );
        if (!pair) break;
        if (options.key && segment === path[path.length - 1] && isNode(pair.key)) {
          best = pair.key;
          break;
        }
        node = pair.value;
        if (isNode(node)) best = node;
        else if (isNode(pair.key)) best = pair.key;
      } else if (isSeq(node) && typeof segment === 'number') {
        node = node.items[segment];
        if (!isNode(node)) break;
        best = node;
      } else {
        break;
      }
    }
    const offset = best?.range?.[0];
    if (offset === undefined) return undefined;
    const { line, col } = this.#lines.linePos(offset);
    return { line, column: col };
  }
}
