// The peers bench's check of every run: count a topic with a read_committed consumer.
import { sleep } from '../../lib/processes.mjs';

/**
 * Reads `topic` from the beginning with a read_committed kafkajs consumer until no record came
 * for a second (or 10 minutes passed); throws unless it held exactly `count` records.
 */
export async function verifyCommitted(kafka, topic, count, unique) {
  const consumer = kafka.consumer({
    groupId: unique('bench-verify'),
    readUncommitted: false,
    maxWaitTimeInMs: 200,
    maxBytes: 50 * 1024 * 1024,
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let seen = 0;
  let last = Date.now();
  await consumer.run({
    eachBatch: async ({ batch }) => {
      seen += batch.messages.length;
      last = Date.now();
    },
  });
  const deadline = Date.now() + 600_000;
  while ((seen < count || Date.now() - last < 1_000) && Date.now() < deadline) await sleep(100);
  await consumer.disconnect();
  if (seen !== count) throw new Error(`${topic}: read_committed holds ${seen} records, expected ${count}`);
}
