/** Walking an error and everything it wraps, whichever Kafka client library threw it. */

/**
 * Walks an error and everything it wraps: `cause`, kafkajs's `originalError`, and the `errors` of
 * an aggregate (@platformatic/kafka nests them), breadth first, each object once.
 */
export function* errorLinks(error: unknown): Generator<Record<string, unknown>> {
  const queue: unknown[] = [error];
  const seen = new Set<unknown>();
  while (queue.length > 0 && seen.size < 32) {
    const current = queue.shift();
    if (typeof current !== 'object' || current === null || seen.has(current)) continue;
    seen.add(current);
    const link = current as Record<string, unknown>;
    yield link;
    if (link.cause !== undefined) queue.push(link.cause);
    if (link.originalError !== undefined) queue.push(link.originalError);
    if (Array.isArray(link.errors)) queue.push(...link.errors);
  }
}
