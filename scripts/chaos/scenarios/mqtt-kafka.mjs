// Chaos scenario mqtt-kafka: an MQTT 5 persistent session (QoS 1, wildcard subscription over
// three topics) on a private Mosquitto into a transactional Kafka topic. The pipeline is
// SIGKILLed at random, its broker connection is cut through a TCP proxy, and the broker is
// restarted mid-run (SIGTERM: it saves its state first). The publisher pauses around the restart
// and counts a message as sent only once the broker acknowledged it.
import mqtt from 'mqtt';
import {
  brokers,
  CommittedReader,
  createTopic,
  killLoop,
  PipelineProcess,
  random,
  sleep,
  uniqueName,
  verify,
} from '../harness.mjs';
import { createSession, Mosquitto } from '../mosquitto.mjs';
import { TcpProxy } from '../tcp-proxy.mjs';

const COMMIT = { maxWallMs: 300, maxRecords: 2_000 };
const STREAMS = ['s0', 's1', 's2'];

/** Publishes `{ id, stream, seq }` at QoS 1 to `<base>/<stream>`; `expected` holds the acknowledged ones. */
class MqttFeeder {
  constructor(url, base, rng) {
    this.url = url;
    this.base = base;
    this.rng = rng;
    this.expected = [];
    this.seq = Object.fromEntries(STREAMS.map((stream) => [stream, 0]));
    this.paused = null;
  }

  async #connect() {
    this.client = await mqtt.connectAsync(this.url, {
      clientId: uniqueName('chaos-mqtt-pub'),
      protocolVersion: 5,
      reconnectPeriod: 0,
    });
  }

  /** Waits for the publish under way to be acknowledged, then disconnects and holds feeding. */
  async pause() {
    let release;
    const gate = new Promise((resolve) => {
      release = resolve;
    });
    await new Promise((parked) => {
      this.paused = { gate, release, parked };
    });
    await this.client.endAsync();
  }

  async resume() {
    await this.#connect();
    const paused = this.paused;
    this.paused = null;
    paused.release();
  }

  async start() {
    await this.#connect();
    this.running = true;
    this.done = (async () => {
      while (this.running) {
        if (this.paused) {
          this.paused.parked();
          await this.paused.gate;
          continue;
        }
        const stream = STREAMS[this.rng.between(0, STREAMS.length - 1)];
        const count = this.rng.between(1, 40);
        const sends = [];
        for (let index = 0; index < count; index += 1) {
          this.seq[stream] += 1;
          const record = { id: `${stream}-${this.seq[stream]}`, stream, seq: this.seq[stream] };
          sends.push(
            this.client
              .publishAsync(`${this.base}/${stream}`, JSON.stringify(record), { qos: 1 })
              .then(() => record),
          );
        }
        for (const record of await Promise.all(sends)) this.expected.push(record);
        await sleep(this.rng.between(5, 40));
      }
      await this.client.endAsync();
    })();
  }

  async stop() {
    this.running = false;
    await this.done;
  }
}

/** MQTT protocol of the pipeline's session: 5, or 4 (3.1.1) with TIDEMARK_CHAOS_MQTT_PROTOCOL=4. */
const PROTOCOL = process.env.TIDEMARK_CHAOS_MQTT_PROTOCOL === '4' ? 4 : 5;

export async function mqttKafka({ kills, seed, log }) {
  const rng = random(seed);
  const broker = new Mosquitto();
  await broker.start();
  const proxy = new TcpProxy({ targetPort: broker.port });
  await proxy.start();
  const base = uniqueName('chaos/mqtt');
  const clientId = uniqueName('chaos-mqtt-session');
  await createSession(broker.url, clientId, `${base}/#`, PROTOCOL);
  const sinkTopic = uniqueName('chaos-mqtt-out');
  await createTopic(sinkTopic, 1);
  const reader = new CommittedReader(sinkTopic);
  await reader.start();
  const feeder = new MqttFeeder(broker.url, base, rng);
  await feeder.start();
  const spec = {
    pipelineId: uniqueName('chaos-mqtt'),
    sources: [
      {
        name: 'mqtt',
        package: '@tidemark/source-mqtt',
        options: {
          url: `mqtt://127.0.0.1:${proxy.port}`,
          clientId,
          topics: [`${base}/#`],
          qos: 1,
          protocolVersion: PROTOCOL,
          maxInflight: 500,
          keepaliveSeconds: 5,
          connectTimeoutMs: 3_000,
        },
      },
    ],
    sink: {
      package: '@tidemark/sink-kafka',
      options: { brokers, topic: sinkTopic, clientId: 'tidemark-chaos' },
    },
    commit: COMMIT,
  };
  // Beside the kills, until feeding stops: connection cuts (at least three), and one broker
  // restart while a pipeline is connected.
  let disrupting = true;
  const disruptions = (async () => {
    while (disrupting || proxy.cuts < 3 || broker.restarts === 0) {
      await sleep(rng.between(700, 2_500));
      if (broker.restarts === 0 && proxy.cuts >= 2) {
        await feeder.pause();
        await broker.restart(rng.between(200, 1_500));
        await feeder.resume();
        log(`mosquitto restarted (after ${proxy.cuts} connection cuts)`);
      } else proxy.cut();
    }
  })();
  let current;
  try {
    current = await killLoop({ kills, rng, log, spawnPipeline: () => new PipelineProcess(spec, log) });
    disrupting = false;
    await disruptions;
    await feeder.stop();
    const ids = new Set(feeder.expected.map((record) => record.id));
    log(`feeding stopped: ${ids.size} messages acknowledged by the broker; waiting for the pipeline`);
    await reader.waitFor(ids.size, { progress: log });
    const code = await current.stop();
    if (code !== 0) log(`last pipeline exited with ${code}: ${current.stderrTail.slice(-5).join(' | ')}`);
    await reader.waitFor(0, { settleMs: 1_500 });
    await reader.stop();
    return {
      kills,
      ...verify(feeder.expected, reader.records),
      notes: `protocol=${PROTOCOL} connection_cuts=${proxy.cuts} broker_restarts=${broker.restarts}`,
    };
  } finally {
    disrupting = false;
    await current?.kill('SIGKILL');
    await reader.stop();
    await proxy.close();
    await broker.dispose();
  }
}
