import { KafkaTestProxy, produceErrorName, setClusterDefault } from '@tidemark/kafka';
import type { SinkRecord } from '@tidemark/sdk';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { brokers, consumeCommitted, rejection, testRecord, uniqueName } from './int-test-helpers.js';
import { createKafkaSink } from './kafka-sink.js';

/** Records of one key, so they share a partition whatever the topic's partition count. */
function records(prefix: string, count: number, first: number): SinkRecord[] {
  return Array.from({ length: count }, (_, index) => ({
    ...testRecord(`${prefix}-${index}`, first + index),
    key: Buffer.from('one-key'),
  }));
}

const watermarks = (line: number) => ({ files: { '/data/in.txt': line } });

/**
 * The hazard: a Produce request of a transaction reaches the partition leader only after the
 * transaction was aborted. A leader that does not verify transactions with the coordinator
 * (Kafka before 3.6, or transaction.partition.verification.enable=false) accepts it when its
 * epoch is still current there: after an EndTxn(abort) at the old epoch it is, the records
 * open a transaction no coordinator knows of, and the next transaction's commit marker makes
 * them visible (the class of KAFKA-17754). The sink aborts after a failed send through a new
 * producer's InitProducerId, whose abort markers carry a bumped epoch, so the leader refuses the
 * late request. A sink that sent EndTxn at the old epoch fails this test on both clients.
 */
describe('kafka sink abort after a failed send, on a broker without transaction verification', () => {
  let restoreVerification: (() => Promise<void>) | undefined;

  // Verification off: with it on, the leader asks the coordinator, which knows the transaction
  // ended, and refuses the late request itself, so even an abort at the old epoch would pass.
  // It is a cluster-wide setting: off only while this file runs (under 20 s, both clients at
  // once). Tests of other files on the same broker pass either way: the hazard needs a produce
  // request delayed past an abort, which only this file arranges.
  beforeAll(async () => {
    restoreVerification = await setClusterDefault(
      brokers,
      'transaction.partition.verification.enable',
      'false',
    );
  });
  afterAll(async () => {
    await restoreVerification?.();
  });

  it.concurrent.for(['platformatic', 'kafkajs'] as const)(
    'client %s: a produce request that reaches the broker after the abort never becomes visible',
    { timeout: 40_000 },
    async (client, { onTestFinished, expect }) => {
      const proxy = new KafkaTestProxy(brokers[0]!);
      const address = await proxy.start();
      onTestFinished(() => proxy.close());
      const topic = uniqueName(`sink-abort-epoch-${client}`);
      const sink = createKafkaSink({ brokers: [address], topic, client, requestTimeoutMs: 1_000 });
      onTestFinished(() => sink.close());
      await sink.open({ pipelineId: uniqueName('p') });

      // The send's Produce requests (the client's retries included) are held until they time
      // out: the send fails and the transaction is aborted while they are still on their way.
      await sink.begin();
      proxy.holdProduce();
      await sink.write(records('aborted', 3, 1));
      const failed = await rejection(sink.commit({ watermarks: watermarks(3), rowtime: 3 }));
      // kafkajs reports the request timeout; @platformatic/kafka drops the connection of a
      // timed-out request and reports that.
      expect(['TIMEOUT', 'CONNECTION_FAILED']).toContain(failed.code);
      expect(proxy.held).toBeGreaterThan(0);
      await sink.abort();

      const late = (await proxy.release()).flatMap((answer) =>
        answer.partitions.map((partition) => produceErrorName(partition.errorCode)),
      );
      // The broker's answers say why (soft: the visibility check below is the outcome that matters).
      const accepted = late.filter((error) => error === 'NONE');
      expect(late.length).toBeGreaterThan(0);
      expect.soft(accepted, `the broker's answers: ${late.join(', ')}`).toEqual([]);

      await sink.begin();
      await sink.write(records('committed', 3, 4));
      await sink.commit({ watermarks: watermarks(6), rowtime: 6 });
      // One partition: records swept into the commit would sit before the committed ones.
      const read = await consumeCommitted(
        [topic],
        (messages) => messages.filter((message) => message.value?.startsWith('committed-')).length >= 3,
        10_000,
      );
      expect(read.map((message) => message.value)).toEqual(['committed-0', 'committed-1', 'committed-2']);
    },
  );
});
