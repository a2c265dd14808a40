// Kafka's own producer perf tool (org.apache.kafka.tools.ProducerPerformance), transactional,
// with Tidemark's request size: the broker's transactional ceiling on this machine.
import { runCommand } from '../../lib/processes.mjs';

/**
 * Sends `count` records of `size` bytes to `topic` in transactions of `intervalMs`; returns the
 * tool's own records/s (first send to last acknowledgement, commits included).
 */
export function perfTool(
  { java, classpath },
  { brokers, topic, count, size, intervalMs, batchBytes, lingerMs },
) {
  const result = runCommand(
    java,
    [
      '-Xmx512m',
      '-cp',
      classpath,
      'org.apache.kafka.tools.ProducerPerformance',
      '--topic',
      topic,
      '--num-records',
      String(count),
      '--record-size',
      String(size),
      '--throughput',
      '-1',
      '--transactional-id',
      `${topic}-tx`,
      '--transaction-duration-ms',
      String(intervalMs),
      '--producer-props',
      `bootstrap.servers=${brokers.join(',')}`,
      'acks=all',
      `batch.size=${batchBytes}`,
      `linger.ms=${lingerMs}`,
      `max.request.size=${Math.max(batchBytes * 2, 1_048_576)}`,
    ],
    { timeout: 600_000 },
  );
  const summary = /(\d+) records sent, ([\d.]+) records\/sec/.exec(
    result.output.split('\n').reverse().join('\n'),
  );
  if (result.code !== 0 || !summary)
    throw new Error(`the producer perf tool failed (exit ${result.code}):\n${result.output.slice(-2000)}`);
  return { perSecond: Number(summary[2]) };
}
