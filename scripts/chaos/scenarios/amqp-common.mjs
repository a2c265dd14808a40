// Shared body of the RabbitMQ chaos scenarios (amqp-stream-kafka, amqp-queue-kafka): a
// publisher with confirms feeds a queue while a real pipeline (source-amqp → sink-kafka) runs
// behind a TCP proxy; the pipeline is SIGKILLed at random and its broker connection is cut at
// least three times; a read_committed reader then checks every confirmed message exactly once.
import amqplib from 'amqplib';
import * as harness from '../harness.mjs';
import { TcpProxy } from '../tcp-proxy.mjs';

const BROKER = new URL(process.env.TIDEMARK_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672');
const BROKER_URL = BROKER.href;
const MIN_CUTS = 3;

/** Publishes `{ id, stream, seq }` messages with confirms; only confirmed ones are expected. */
class ConfirmedPublisher {
  constructor(queue, rng) {
    this.queue = queue;
    this.rng = rng;
    this.expected = [];
    this.seq = 0;
  }

  async start() {
    this.connection = await amqplib.connect(BROKER_URL);
    this.channel = await this.connection.createConfirmChannel();
    this.running = true;
    this.done = (async () => {
      while (this.running) {
        const batch = [];
        for (let index = this.rng.between(1, 40); index > 0; index -= 1) {
          this.seq += 1;
          const record = { id: `q-${this.seq}`, stream: 'q', seq: this.seq };
          this.channel.sendToQueue(this.queue, Buffer.from(JSON.stringify(record)), {
            persistent: true,
            messageId: record.id,
            timestamp: Math.floor(Date.now() / 1000),
          });
          batch.push(record);
        }
        await this.channel.waitForConfirms();
        this.expected.push(...batch);
        await harness.sleep(this.rng.between(5, 40));
      }
    })();
  }

  async stop() {
    this.running = false;
    await this.done;
    await this.connection.close();
  }
}

/** Cuts the proxied broker connections at random moments until stopped (and at least MIN_CUTS times). */
function cutLoop(proxy, rng, log) {
  let running = true;
  const done = (async () => {
    while (running || proxy.cuts < MIN_CUTS) {
      await harness.sleep(rng.between(700, 2_000));
      proxy.cut();
      log(`cut ${proxy.cuts}: every broker connection of the pipeline reset`);
    }
  })();
  return async () => {
    running = false;
    await done;
  };
}

/** Runs one scenario on a queue of `queueType` ('stream' or 'quorum'). */
export async function amqpKafka({ kills, seed, log, queueType }) {
  const rng = harness.random(seed);
  const queue = harness.uniqueName(`chaos-amqp-${queueType}`);
  const admin = await amqplib.connect(BROKER_URL);
  const adminChannel = await admin.createChannel();
  await adminChannel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': queueType } });
  const proxy = new TcpProxy({ targetHost: BROKER.hostname, targetPort: Number(BROKER.port || 5672) });
  await proxy.start();
  const sinkTopic = harness.uniqueName(`chaos-amqp-${queueType}-out`);
  await harness.createTopic(sinkTopic, 1);
  const reader = new harness.CommittedReader(sinkTopic);
  await reader.start();
  const publisher = new ConfirmedPublisher(queue, rng);
  await publisher.start();
  const proxied = new URL(BROKER_URL);
  proxied.hostname = '127.0.0.1';
  proxied.port = String(proxy.port);
  const spec = {
    pipelineId: harness.uniqueName(`chaos-amqp-${queueType}`),
    sources: [
      {
        name: 'rabbit',
        package: '@tidemark/source-amqp',
        options: {
          url: proxied.href,
          queues: [queue],
          queueType,
          prefetch: 1_000,
          heartbeatSeconds: 5,
          connectTimeoutMs: 3_000,
          forgetAfterMs: 20_000,
        },
      },
    ],
    sink: {
      package: '@tidemark/sink-kafka',
      options: { brokers: harness.brokers, topic: sinkTopic, clientId: 'tidemark-chaos' },
    },
    commit: { maxWallMs: 300, maxRecords: 1_000 },
  };
  // Redeliveries the source recognised as committed (a kill between commit and acknowledgement).
  let skipped = 0;
  const spawnPipeline = () => {
    const pipeline = new harness.PipelineProcess(spec, log);
    pipeline.child.stderr.on('data', (chunk) => {
      for (const match of String(chunk).matchAll(/"skipped":(\d+)/g)) skipped += Number(match[1]);
    });
    return pipeline;
  };
  try {
    const stopCutting = cutLoop(proxy, rng, log);
    const current = await harness.killLoop({ kills, rng, log, spawnPipeline });
    await stopCutting();
    await publisher.stop();
    log(
      `publishing stopped: ${publisher.expected.length} confirmed messages; waiting for the pipeline to commit them`,
    );
    await reader.waitFor(new Set(publisher.expected.map((record) => record.id)).size, { progress: log });
    const code = await current.stop();
    if (code !== 0) log(`last pipeline exited with ${code}: ${current.stderrTail.slice(-5).join(' | ')}`);
    await reader.waitFor(0, { settleMs: 1_500 });
    await reader.stop();
    const left = (await adminChannel.checkQueue(queue)).messageCount;
    const result = harness.verify(publisher.expected, reader.records);
    const notes = `cuts=${proxy.cuts}${queueType === 'stream' ? '' : ` redeliveries_skipped=${skipped} unacknowledged_left=${left}`}`;
    if (queueType !== 'stream' && left !== 0)
      return { kills, ...result, notes, error: `${left} messages left unacknowledged in the queue` };
    return { kills, ...result, notes };
  } finally {
    await proxy.close();
    await adminChannel.deleteQueue(queue).catch(() => undefined);
    await admin.close().catch(() => undefined);
  }
}
