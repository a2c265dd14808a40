import type { JsonValue, Logger } from '@tidemark/sdk';
import type { ConnectSettings } from './connection.js';
import { streamOffset } from './provenance.js';
import { QueueConsumer } from './queue-consumer.js';

/** How long the lookup waits for the broker to deliver the chunk it asked for. */
const QUIET_MS = 400;
const LIMIT_MS = 10_000;

/**
 * The position of stream `queue` for a deliberate reset: `latest` is the offset after the
 * newest message (read from the start of the last chunk to its end); a `time` is the offset of
 * the first message of the first chunk written at or after it (second precision), or `latest`
 * when nothing was written since. An empty stream gives "0".
 */
export async function streamWatermarkAt(
  queue: string,
  settings: ConnectSettings,
  prefetch: number,
  logger: Logger,
  target: { readonly latest: true } | { readonly time: number },
): Promise<JsonValue> {
  if ('time' in target) {
    const first = await lookup(
      queue,
      settings,
      prefetch,
      logger,
      {
        '!': 'timestamp',
        value: Math.floor(target.time / 1000),
      },
      true,
    );
    if (first !== null) return first.toString();
  }
  const last = await lookup(queue, settings, prefetch, logger, 'last', false);
  return last === null ? '0' : (last + 1n).toString();
}

/** Consumes from `start` and returns the first offset (`firstOnly`) or the highest one seen. */
async function lookup(
  queue: string,
  settings: ConnectSettings,
  prefetch: number,
  logger: Logger,
  start: unknown,
  firstOnly: boolean,
): Promise<bigint | null> {
  let wake: (() => void) | null = null;
  const consumer = new QueueConsumer(queue, settings, prefetch, logger, () => wake?.());
  try {
    await consumer.start({ 'x-stream-offset': start });
    let highest: bigint | null = null;
    const deadline = Date.now() + LIMIT_MS;
    while (Date.now() < deadline) {
      const received = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(consumer.buffered > 0), QUIET_MS);
        wake = () => {
          clearTimeout(timer);
          resolve(true);
        };
        if (consumer.buffered > 0 || consumer.failed) wake();
      });
      wake = null;
      consumer.throwIfFailed();
      if (!received) break;
      const messages = consumer.take(Number.MAX_SAFE_INTEGER);
      for (const message of messages) {
        const offset = streamOffset(message);
        if (offset === null) continue;
        if (firstOnly) return offset;
        if (highest === null || offset > highest) highest = offset;
      }
      const last = messages[messages.length - 1];
      if (last) consumer.acknowledge(last.fields.deliveryTag, true);
    }
    return highest;
  } finally {
    await consumer.close();
  }
}
