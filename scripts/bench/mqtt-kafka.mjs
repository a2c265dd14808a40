// Bench case mqtt-kafka: the MQTT source → transactional Kafka sink pipeline against a raw
// mqtt.js subscriber (MQTT 5, QoS 1, automatic acknowledgements) draining the same messages from
// the same private Mosquitto in the same run. Each round queues N messages once for two fresh
// persistent sessions (both subscribed to the topic), then drains one session with each reader,
// alternating which goes first; the figures are the medians over the rounds.
//
//   npm run bench -- --scenario mqtt-kafka [--records 20000] [--repeat 3]
//
// Last line: bench scenario=mqtt-kafka-<size>B records_per_s=<x> baseline=mqtt.js baseline_per_s=<y> ratio=<x/y>
import { Pipeline } from '@tidemark/core';
import { Kafka, logLevel } from 'kafkajs';
import mqtt from 'mqtt';
import { createSession, Mosquitto } from '../chaos/mosquitto.mjs';

const SIZE = 100;
const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };
const unique = (prefix) => `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}`;
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function publish(url, topic, count) {
  const client = await mqtt.connectAsync(url, {
    clientId: unique('bench-pub'),
    protocolVersion: 5,
    reconnectPeriod: 0,
  });
  const pad = 'x'.repeat(SIZE);
  for (let offset = 0; offset < count; offset += 500) {
    const sends = [];
    for (let index = offset; index < Math.min(count, offset + 500); index += 1) {
      sends.push(client.publishAsync(topic, `${index}:${pad}`.slice(0, SIZE), { qos: 1 }));
    }
    await Promise.all(sends);
  }
  await client.endAsync();
}

/** The raw mqtt.js subscriber: resumes its session and counts messages until all arrived. */
async function drainRaw(url, clientId, count) {
  let received = 0;
  let finish;
  const done = new Promise((resolve) => {
    finish = resolve;
  });
  const started = performance.now();
  const client = mqtt.connect(url, {
    clientId,
    clean: false,
    protocolVersion: 5,
    reconnectPeriod: 0,
    properties: { sessionExpiryInterval: 3_600 },
  });
  client.on('message', () => {
    received += 1;
    if (received === count) finish();
  });
  await done;
  const seconds = (performance.now() - started) / 1000;
  await client.endAsync();
  return count / seconds;
}

/** Tidemark: the MQTT source resumes its session, the Kafka sink commits; until all are committed. */
async function drainTidemark(url, clientId, topic, brokers, count) {
  const [{ default: mqttSource }, { default: kafkaSink }] = await Promise.all([
    import('@tidemark/source-mqtt'),
    import('@tidemark/sink-kafka'),
  ]);
  const sinkTopic = unique('bench-mqtt-out');
  const kafka = new Kafka({ clientId: 'tidemark-bench', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: sinkTopic, numPartitions: 1 }], waitForLeaders: true });
  await admin.disconnect();
  const context = (name) => ({ name, logger: silent, signal: new AbortController().signal });
  const source = mqttSource.create(
    mqttSource.configSchema.parse({ url, clientId, topics: [topic], qos: 1, maxInflight: 5_000 }),
    context('bench-mqtt'),
  );
  const sink = kafkaSink.create(
    kafkaSink.configSchema.parse({
      brokers,
      topic: sinkTopic,
      clientId: 'tidemark-bench',
      provenanceHeaders: 'none',
    }),
    context('sink'),
  );
  const pipeline = new Pipeline({
    id: unique('bench-mqtt'),
    sources: [source],
    sink,
    commit: { maxWallMs: 1_000, maxRecords: 50_000 },
    observer: {
      onCommit: () => {
        if (pipeline.status().recordsOut >= count) pipeline.stop();
      },
    },
  });
  const started = performance.now();
  const { status } = await pipeline.run();
  const seconds = (performance.now() - started) / 1000;
  if (status.recordsOut !== count)
    throw new Error(`pipeline delivered ${status.recordsOut} of ${count} messages`);
  return { perSecond: count / seconds, commits: status.commits };
}

export async function main(values) {
  const brokers = (process.env.TIDEMARK_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
  const count = values.records ? Number(values.records) : 20_000;
  const rounds = Math.max(3, Number(values.repeat ?? 3));
  const broker = new Mosquitto({ maxQueued: 0 });
  await broker.start();
  const ours = [];
  const raw = [];
  try {
    for (let round = 0; round < rounds; round += 1) {
      const topic = unique('bench/mqtt');
      const rawId = unique('bench-raw');
      const oursId = unique('bench-tidemark');
      await createSession(broker.url, rawId, topic);
      await createSession(broker.url, oursId, topic);
      await publish(broker.url, topic, count);
      const drains = [
        async () => raw.push(await drainRaw(broker.url, rawId, count)),
        async () => {
          const result = await drainTidemark(broker.url, oursId, topic, brokers, count);
          ours.push(result.perSecond);
        },
      ];
      if (round % 2 === 1) drains.reverse();
      for (const drain of drains) await drain();
      console.log(
        `  round ${round + 1}: tidemark ${Math.round(ours.at(-1))} msg/s, raw mqtt.js ${Math.round(raw.at(-1))} msg/s`,
      );
    }
  } finally {
    await broker.dispose();
  }
  const x = median(ours);
  const y = median(raw);
  console.log(
    `bench scenario=mqtt-kafka-${SIZE}B records_per_s=${Math.round(x)} baseline=mqtt.js baseline_per_s=${Math.round(y)} ratio=${(x / y).toFixed(2)}`,
  );
  return 0;
}
