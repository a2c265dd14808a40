import { describeSourceConformance } from '@tidemark/sdk/testing';
import { afterAll, beforeAll } from 'vitest';
import { amqpSource, amqpStreamSource } from './index.js';
import { NULLABLE_PROVENANCE } from './provenance.js';
import { BROKER_URL, type QueueKind, TestBroker } from './test-broker.fixture.js';

const broker = new TestBroker();
let queue = '';
let produced = 0;

beforeAll(() => broker.connect());
afterAll(() => broker.close());

function suite(kind: QueueKind): void {
  describeSourceConformance({
    title: `source conformance: amqp (${kind} queue)`,
    connector: kind === 'stream' ? amqpStreamSource : amqpSource,
    config: () => ({ url: BROKER_URL, queues: [queue], queueType: kind, prefetch: 100, heartbeatSeconds: 5 }),
    setup: async () => {
      queue = await broker.createQueue(kind, 'tm-conformance');
      produced = 0;
    },
    cleanup: () => broker.deleteQueue(queue),
    produce: async (count) => {
      const ids = Array.from({ length: count }, () => `id-${produced++}`);
      await broker.publish(queue, ids, (index) => ({ messageId: ids[index] }));
      return ids;
    },
    idOf: (record) => Buffer.from(record.value ?? new Uint8Array()).toString('utf8'),
    badConfig: { queues: [], prefetch: 0, queueType: 'topic' },
    nullableProvenance: [...NULLABLE_PROVENANCE],
  });
}

suite('stream');
suite('quorum');
