import type { SinkRecord } from '@tidemark/sdk';
import { describeSinkConformance } from '@tidemark/sdk/testing';
import kafkajs from 'kafkajs';
import {
  brokers,
  type CommitMode,
  consumeCommitted,
  faultyClientFactory,
  uniqueName,
} from './int-test-helpers.js';
import { createKafkaSink } from './kafka-sink.js';

const { Kafka, logLevel } = kafkajs;
const kafka = new Kafka({ clientId: 'sink-kafka-conformance', brokers, logLevel: logLevel.NOTHING });

/** Not JSON, so `valueFormat: json` can never write it. */
const NOT_JSON: SinkRecord = {
  key: null,
  value: Buffer.from('{not json'),
  headers: {},
  rowtime: 0,
  provenance: {},
  position: { unit: 'u', next: 0 },
};

// Both client libraries pass the same suite: @platformatic/kafka (the default) and kafkajs.
for (const client of ['platformatic', 'kafkajs'] as const) {
  describeSinkConformance({
    title: `sink conformance: kafka (client: ${client})`,
    commitFaults: true,
    poisonRecord: NOT_JSON,
    async setup() {
      // One partition, so the committed order is the read order.
      const topic = uniqueName('sink-conformance');
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
      await admin.disconnect();
      return {
        createSink({ commitFault } = {}) {
          let mode: CommitMode =
            commitFault === 'uncertain-committed'
              ? 'commit-then-fail'
              : commitFault === 'uncertain-lost'
                ? 'fail-without-commit'
                : 'pass';
          const clientFactory = faultyClientFactory(() => {
            const current = mode;
            mode = 'pass';
            return current;
          });
          return createKafkaSink({ brokers, topic, valueFormat: 'json', client }, { clientFactory });
        },
        async readCommittedValues(lastValue) {
          const messages = await consumeCommitted([topic], (read) =>
            read.some((message) => message.value === lastValue),
          );
          return messages.map((message) => message.value ?? '');
        },
        async cleanup() {
          const cleaner = kafka.admin();
          await cleaner.connect();
          await cleaner.deleteTopics({ topics: [topic] }).catch(() => undefined);
          await cleaner.disconnect();
        },
      };
    },
  });
}
