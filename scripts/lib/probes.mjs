// One real protocol request per service. Each probe resolves { ok, detail } and never throws.
// Client libraries are loaded lazily from the workspace node_modules, so `down` works without them.

const quietly = async (work) => {
  try {
    return await work();
  } catch (error) {
    const message = error instanceof Error ? error.message || error.name : String(error);
    if (/Cannot find (package|module)/.test(message)) {
      return { ok: false, detail: `client library missing (${message.split('\n')[0]}); run npm install` };
    }
    return { ok: false, detail: message.split('\n')[0] };
  }
};

async function load(name) {
  const module = await import(name);
  return module.default ?? module;
}

function withTimeout(promise, milliseconds, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${milliseconds} ms`)), milliseconds);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Kafka: a metadata round trip (DescribeCluster) through kafkajs, the client the connectors use. */
export function probeKafka(brokers) {
  return quietly(async () => {
    const { Kafka, logLevel } = await load('kafkajs');
    const kafka = new Kafka({
      clientId: 'tidemark-services',
      brokers,
      logLevel: logLevel.NOTHING,
      connectionTimeout: 2000,
      requestTimeout: 5000,
      retry: { retries: 0 },
    });
    const admin = kafka.admin();
    try {
      const cluster = await withTimeout(
        admin.connect().then(() => admin.describeCluster()),
        8000,
        'Kafka metadata request',
      );
      // A broker that just started answers metadata before its group coordinator is ready (the
      // offsets topic is still being created): offset commits fail until then, so wait for it.
      await withTimeout(admin.describeGroups(['tidemark-services-probe']), 8000, 'Kafka group coordinator');
      // Each group's coordinator is the leader of one partition of the offsets topic: wait until
      // every partition has one, not only the probe group's.
      const offsets = await withTimeout(
        admin.fetchTopicMetadata({ topics: ['__consumer_offsets'] }),
        8000,
        'Kafka offsets topic metadata',
      );
      const partitions = offsets.topics[0]?.partitions ?? [];
      if (partitions.length === 0 || partitions.some((partition) => partition.leader < 0)) {
        return { ok: false, detail: 'the offsets topic has partitions without a leader yet' };
      }
      return { ok: true, detail: `cluster ${cluster.clusterId}, ${cluster.brokers.length} broker(s)` };
    } finally {
      await admin.disconnect().catch(() => {});
    }
  });
}

/** Kinesis: ListStreams with dummy credentials (the emulator accepts any signature). */
export function probeKinesis(endpoint) {
  return quietly(async () => {
    const { KinesisClient, ListStreamsCommand } = await load('@aws-sdk/client-kinesis');
    const { NodeHttpHandler } = await load('@smithy/node-http-handler');
    const client = new KinesisClient({
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'tidemark', secretAccessKey: 'tidemark' },
      maxAttempts: 1,
      // HTTP/1.1: the client's default HTTP/2 handler gets garbled answers from the emulator now and then.
      requestHandler: new NodeHttpHandler({ connectionTimeout: 2000, requestTimeout: 5000 }),
    });
    try {
      const result = await client.send(new ListStreamsCommand({}), {
        abortSignal: AbortSignal.timeout(6000),
      });
      return { ok: true, detail: `${result.StreamNames?.length ?? 0} stream(s)` };
    } finally {
      client.destroy();
    }
  });
}

/** PostgreSQL: SELECT 1 over a real connection. */
export function probePostgres(url) {
  return quietly(async () => {
    const { Client } = await load('pg');
    const client = new Client({ connectionString: url, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      const result = await withTimeout(
        client.query('SELECT 1 AS one, version() AS version'),
        5000,
        'SELECT 1',
      );
      const version = String(result.rows[0]?.version ?? '')
        .split(' ')
        .slice(0, 2)
        .join(' ');
      return { ok: result.rows[0]?.one === 1, detail: version };
    } finally {
      await client.end().catch(() => {});
    }
  });
}

/** RabbitMQ: an AMQP 0-9-1 connection handshake and a channel open. */
export function probeRabbitmq(url) {
  return quietly(async () => {
    const amqp = await load('amqplib');
    const connection = await withTimeout(amqp.connect(url, { timeout: 3000 }), 5000, 'AMQP connect');
    try {
      const channel = await connection.createChannel();
      await channel.close();
      const product = connection.connection?.serverProperties?.product ?? 'AMQP';
      const version = connection.connection?.serverProperties?.version ?? '';
      return { ok: true, detail: `${product} ${version}`.trim() };
    } finally {
      await connection.close().catch(() => {});
    }
  });
}

/** Mosquitto: an MQTT CONNECT answered by CONNACK. */
export function probeMosquitto(url) {
  return quietly(async () => {
    const mqtt = await load('mqtt');
    const client = await withTimeout(
      mqtt.connectAsync(url, {
        connectTimeout: 3000,
        reconnectPeriod: 0,
        clientId: `tidemark-probe-${process.pid}`,
      }),
      5000,
      'MQTT connect',
    );
    await client.endAsync();
    return { ok: true, detail: 'CONNACK' };
  });
}
