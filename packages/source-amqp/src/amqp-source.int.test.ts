import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import {
  parseConnectorConfig,
  type Source,
  silentLogger,
  TidemarkError,
  type TidemarkRecord,
  type Watermark,
} from '@tidemark/sdk';
import amqplib from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AmqpSource } from './amqp-source.js';
import { amqpSource } from './index.js';
import type { RedeliverReader } from './queue-reader.js';
import { BROKER_URL, type QueueKind, TestBroker } from './test-broker.fixture.js';

const broker = new TestBroker();
beforeAll(() => broker.connect());
afterAll(() => broker.close());

function createSource(options: Record<string, unknown>): AmqpSource {
  const config = parseConnectorConfig(amqpSource, { url: BROKER_URL, ...options }, 'sources[0]');
  return amqpSource.create(config, {
    name: 'amqp-test',
    logger: silentLogger,
    signal: new AbortController().signal,
  }) as AmqpSource;
}

const text = (record: TidemarkRecord) => Buffer.from(record.value ?? new Uint8Array()).toString('utf8');

/** Reads until `count` records arrived (fails after 10 s), folding positions into a watermark. */
async function readCount(source: Source, count: number, base: Watermark = {}) {
  const records: TidemarkRecord[] = [];
  let watermark: Record<string, unknown> = { ...base };
  const deadline = Date.now() + 10_000;
  while (records.length < count) {
    if (Date.now() > deadline) throw new Error(`read ${records.length} of ${count}: ${records.map(text)}`);
    const batch = await source.read({
      signal: new AbortController().signal,
      maxRecords: 100,
      maxBytes: 1 << 20,
      maxWaitMs: 200,
    });
    for (const record of batch.records) {
      records.push(record);
      watermark[record.position.unit] = record.position.next;
    }
    if (batch.advance) watermark = { ...watermark, ...batch.advance };
  }
  return { records, watermark: JSON.parse(JSON.stringify(watermark)) as Watermark };
}

async function expectQuiet(source: Source, ms = 500): Promise<void> {
  const batch = await source.read({
    signal: new AbortController().signal,
    maxRecords: 100,
    maxBytes: 1 << 20,
    maxWaitMs: ms,
  });
  expect(batch.records.map(text)).toEqual([]);
}

/** Two fresh queues holding `firstBodies` and `secondBodies`. */
async function twoQueues(
  kinds: [QueueKind, QueueKind],
  firstBodies: string[],
  secondBodies: string[],
): Promise<[string, string]> {
  const first = await broker.createQueue(kinds[0]);
  const second = await broker.createQueue(kinds[1]);
  await broker.publish(first, firstBodies);
  await broker.publish(second, secondBodies);
  return [first, second];
}

const ids = (prefix: string, count: number) =>
  Array.from({ length: count }, (_, index) => `${prefix}-${index}`);

describe('stream queues', () => {
  it('starts at an offset, at first, and at next', async () => {
    const queue = await broker.createQueue('stream');
    await broker.publish(queue, ids('s', 6), (index) => ({
      messageId: `s-${index}`,
      timestamp: 1_700_000_000 + index,
    }));
    const fromOffset = createSource({ queues: [queue], queueType: 'stream', startOffset: 3 });
    await fromOffset.open(null);
    const read = await readCount(fromOffset, 3);
    expect(read.records.map(text)).toEqual(['s-3', 's-4', 's-5']);
    expect(read.watermark).toEqual({ [queue]: '6' });
    expect(read.records[0]!.provenance).toEqual({
      'amqp.queue': queue,
      'amqp.offset': '3',
      'amqp.creation_time': 1_700_000_003_000,
      'amqp.message_id': 's-3',
      'amqp.routing_key': queue,
      'amqp.exchange': '',
    });
    expect(read.records[0]!.rowtime).toBe(1_700_000_003_000);
    await expectQuiet(fromOffset);
    await fromOffset.seek({ [queue]: '1' });
    expect((await readCount(fromOffset, 5)).records.map(text)).toEqual(['s-1', 's-2', 's-3', 's-4', 's-5']);
    await fromOffset.close();

    const fromNext = createSource({ queues: [queue], queueType: 'stream', start: 'next' });
    await fromNext.open(null);
    await expectQuiet(fromNext, 300);
    await broker.publish(queue, ['s-6']);
    const next = await readCount(fromNext, 1);
    expect(next.records.map(text)).toEqual(['s-6']);
    expect(next.watermark).toEqual({ [queue]: '7' });
    await fromNext.close();

    const latest = await createSource({ queues: [queue], queueType: 'stream' }).watermarkAt({ latest: true });
    expect(latest).toEqual({ [queue]: '7' });
  });

  it('starts at a time: the first chunk the broker wrote at or after it', async () => {
    const queue = await broker.createQueue('stream');
    await broker.publish(queue, ids('early', 4));
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await broker.publish(queue, ids('late', 3));
    const lookup = createSource({ queues: [queue], queueType: 'stream' });
    const offsetAt = async (time: number) => Number((await lookup.watermarkAt({ time }))[queue]);
    // Chunk times are the broker's clock, which need not agree with ours (an Erlang node keeps
    // its own time after the machine's clock jumps): find a time between the two publishes on
    // the broker's clock, by the lookup itself, and check the lookup is ordered around it.
    let low = Date.now() - 600_000;
    let high = Date.now() + 600_000;
    let since: number | undefined;
    for (let step = 0; step < 40 && since === undefined; step += 1) {
      const middle = Math.floor((low + high) / 2);
      const offset = await offsetAt(middle);
      if (offset === 4) since = middle;
      else if (offset < 4) low = middle;
      else high = middle;
    }
    expect(since, 'a time between the early and the late chunks').toBeDefined();
    expect(await offsetAt(low)).toBeLessThanOrEqual(4);
    expect(await offsetAt(since! + 3_600_000)).toBe(7);
    const source = createSource({
      queues: [queue],
      queueType: 'stream',
      startTime: new Date(since!).toISOString(),
    });
    await source.open(null);
    const read = await readCount(source, 3);
    expect(read.records.map(text)).toEqual(['late-0', 'late-1', 'late-2']);
    expect(read.watermark).toEqual({ [queue]: '7' });
    await expectQuiet(source);
    await source.close();
  });

  it('reads several queues, each its own watermark unit', async () => {
    const [first, second] = await twoQueues(['stream', 'stream'], ['a-0', 'a-1'], ['b-0']);
    const source = createSource({ queues: [first, second], queueType: 'stream' });
    await source.open({ [first]: '1' });
    const read = await readCount(source, 2);
    expect(read.records.map(text).sort()).toEqual(['a-1', 'b-0']);
    expect(read.watermark).toEqual({ [first]: '2', [second]: '1' });
    await source.close();
  });

  it('refuses a queue of another type than queueType (CONFIG_INVALID)', async () => {
    const classic = await broker.createQueue('classic');
    const asStream = createSource({ queues: [classic], queueType: 'stream' });
    const refused = await asStream.open(null).catch((error: unknown) => error);
    expect(TidemarkError.hasCode(refused, 'CONFIG_INVALID')).toBe(true);
    const stream = await broker.createQueue('stream');
    const asQueue = createSource({ queues: [stream], queueType: 'quorum' });
    await asQueue.open(null);
    await broker.publish(stream, ['x']);
    const failure = await readCount(asQueue, 1).catch((error: unknown) => error);
    await asQueue.close();
    expect(TidemarkError.hasCode(failure, 'CONFIG_INVALID')).toBe(true);
    expect((failure as TidemarkError).fix).toMatch(/queueType/);
  });
});

describe.each<QueueKind>(['quorum', 'classic'])('%s queues', (kind) => {
  it('after a crash between the sink commit and the acknowledgement, redeliveries are acknowledged and not emitted again', async () => {
    const queue = await broker.createQueue(kind);
    await broker.publish(queue, ids('m', 5), (index) => ({ messageId: `m-${index}` }));
    const crashed = createSource({ queues: [queue], queueType: kind });
    await crashed.open(null);
    const committed = (await readCount(crashed, 5)).watermark; // the sink committed these …
    await crashed.close(); // … and the process died before acknowledge()

    const restarted = createSource({ queues: [queue], queueType: kind });
    await restarted.open(committed);
    await expectQuiet(restarted);
    expect((restarted.readers[0] as RedeliverReader).skipped).toBe(5);
    await broker.publish(queue, ['m-5']);
    const fresh = await readCount(restarted, 1, committed);
    expect(fresh.records.map(text)).toEqual(['m-5']);
    await restarted.acknowledge(fresh.watermark);
    await restarted.close();
    const connection = await amqplib.connect(BROKER_URL);
    const channel = await connection.createChannel();
    expect((await channel.checkQueue(queue)).messageCount).toBe(0);
    await connection.close();
  });

  it('identical messages without an id: emits as many as were not committed', async () => {
    const queue = await broker.createQueue(kind);
    await broker.publish(queue, ['same', 'same', 'same']);
    const first = createSource({ queues: [queue], queueType: kind });
    await first.open(null);
    const read = await readCount(first, 3);
    const cut = JSON.parse(JSON.stringify({ [queue]: read.records[1]!.position.next })) as Watermark;
    await first.close();
    const second = createSource({ queues: [queue], queueType: kind });
    await second.open(cut);
    const rest = await readCount(second, 1, cut);
    expect(rest.records.map(text)).toEqual(['same']);
    await expectQuiet(second);
    await second.acknowledge(rest.watermark);
    const position = (await readAdvance(second))[queue] as { unacked: string };
    expect(position.unacked).toBe('');
    await second.close();
  });
});

describe('several classic/quorum queues', () => {
  it('each queue is its own unit; acknowledge and redelivery recognition work per queue', async () => {
    const [first, second] = await twoQueues(['quorum', 'classic'], ['f-0', 'f-1'], ['s-0']);
    const crashed = createSource({ queues: [first, second], queueType: 'quorum' });
    await crashed.open(null);
    const read = await readCount(crashed, 3);
    expect(read.records.map(text).sort()).toEqual(['f-0', 'f-1', 's-0']);
    expect(Object.keys(read.watermark).sort()).toEqual([first, second].sort());
    await crashed.acknowledge({ [second]: read.watermark[second]! });
    await crashed.close();
    const restarted = createSource({ queues: [first, second], queueType: 'quorum' });
    await restarted.open(read.watermark);
    await expectQuiet(restarted);
    expect((restarted.readers[0] as RedeliverReader).skipped).toBe(2);
    expect((restarted.readers[1] as RedeliverReader).skipped).toBe(0);
    await restarted.close();
  });
});

/** The next advance a source reports once acknowledgements were confirmed. */
async function readAdvance(source: Source): Promise<Watermark> {
  const batch = await source.read({
    signal: new AbortController().signal,
    maxRecords: 10,
    maxBytes: 1 << 20,
    maxWaitMs: 300,
  });
  expect(batch.records).toEqual([]);
  expect(batch.advance).toBeDefined();
  return batch.advance!;
}

describe('typed errors', () => {
  it('the connector preflight (validate --connect) finds a missing queue without consuming', async () => {
    const queue = await broker.createQueue('quorum');
    await broker.publish(queue, ['kept']);
    const check = (amqpSource as unknown as { check: (config: unknown, context: unknown) => Promise<void> })
      .check;
    const context = { name: 'preflight', logger: silentLogger, signal: new AbortController().signal };
    const config = (queues: string[]) =>
      parseConnectorConfig(amqpSource, { url: BROKER_URL, queues, queueType: 'quorum' }, 'sources[0]');
    await check(config([queue]), context);
    const failure = await check(config([queue, 'tm-amqp-missing-queue-xyz']), context).catch(
      (error: unknown) => error,
    );
    expect(TidemarkError.hasCode(failure, 'NOT_FOUND')).toBe(true);
    const source = createSource({ queues: [queue], queueType: 'quorum' });
    await source.open(null);
    const read = await readCount(source, 1);
    expect(read.records.map(text)).toEqual(['kept']);
    expect(read.records[0]!.headers['x-delivery-count']).toBeUndefined();
    await source.close();
  });

  it('NOT_FOUND for a queue that does not exist, naming the fix', async () => {
    const source = createSource({ queues: ['tm-amqp-missing-queue-xyz'], queueType: 'quorum' });
    const failure = await source.open(null).catch((error: unknown) => error);
    expect(TidemarkError.hasCode(failure, 'NOT_FOUND')).toBe(true);
    expect((failure as TidemarkError).retriable).toBe(false);
    expect((failure as TidemarkError).fix).toMatch(/Declare queue/);
  });

  it('AUTH_FAILED for bad credentials, without the password anywhere', async () => {
    const queue = await broker.createQueue('classic');
    const source = createSource({ queues: [queue], username: 'guest', password: 'not-the-password-42' });
    const failure = (await source.open(null).catch((error: unknown) => error)) as TidemarkError;
    expect(TidemarkError.hasCode(failure, 'AUTH_FAILED')).toBe(true);
    expect(failure.retriable).toBe(false);
    expect(failure.fix).toMatch(/username and password/);
    expect(`${failure.message} ${failure.fix}`).not.toContain('not-the-password-42');
  });

  it('amqps: TLS_FAILED for an untrusted self-signed certificate, a working connection with tls.ca', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'tm-amqp-tls-'));
    const keyFile = join(directory, 'key.pem');
    const certFile = join(directory, 'cert.pem');
    const openssl = ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost'];
    execFileSync(
      'openssl',
      [...openssl, '-addext', 'subjectAltName=DNS:localhost', '-keyout', keyFile, '-out', certFile],
      {
        stdio: 'ignore',
      },
    );
    const cert = readFileSync(certFile, 'utf8');
    // A TLS endpoint in front of the broker: it terminates TLS and pipes the bytes to 5672.
    const server = tls.createServer({ key: readFileSync(keyFile), cert }, (client) => {
      const upstream = net.connect(Number(new URL(BROKER_URL).port || 5672), '127.0.0.1');
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const queue = await broker.createQueue('quorum');
      await broker.publish(queue, ['over-tls']);
      const untrusted = createSource({ url: `amqps://guest:secret-pw@localhost:${port}`, queues: [queue] });
      const failure = (await untrusted.open(null).catch((error: unknown) => error)) as TidemarkError;
      expect(TidemarkError.hasCode(failure, 'TLS_FAILED')).toBe(true);
      expect(failure.retriable).toBe(false);
      expect(failure.fix).toMatch(/tls\.ca/);
      expect(`${failure.message} ${failure.fix}`).not.toContain('secret-pw');
      const trusted = createSource({
        url: `amqps://localhost:${port}`,
        username: 'guest',
        password: 'guest',
        queues: [queue],
        queueType: 'quorum',
        tls: { ca: cert },
      });
      await trusted.open(null);
      expect((await readCount(trusted, 1)).records.map(text)).toEqual(['over-tls']);
      await trusted.close();
    } finally {
      server.close();
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('CONNECTION_FAILED (retriable) when nothing listens', async () => {
    const source = createSource({ url: 'amqp://127.0.0.1:1', queues: ['q'] });
    const failure = (await source.open(null).catch((error: unknown) => error)) as TidemarkError;
    expect(TidemarkError.hasCode(failure, 'CONNECTION_FAILED')).toBe(true);
    expect(failure.retriable).toBe(true);
  });
});

describe('connection loss', () => {
  it.each<QueueKind>(['quorum', 'stream'])(
    '%s queue: a cut connection fails the next call retriably; seek reconnects and rewinds',
    async (kind) => {
      const proxyModule = '../../../scripts/chaos/tcp-proxy.mjs';
      const { TcpProxy } = (await import(proxyModule)) as {
        TcpProxy: new (options: {
          targetPort: number;
        }) => {
          start(): Promise<number>;
          cut(): void;
          close(): Promise<void>;
        };
      };
      const proxy = new TcpProxy({ targetPort: Number(new URL(BROKER_URL).port || 5672) });
      const port = await proxy.start();
      try {
        const queue = await broker.createQueue(kind);
        await broker.publish(queue, ids('c', 4), (index) => ({ messageId: `c-${index}` }));
        const source = createSource({
          url: `amqp://guest:guest@127.0.0.1:${port}`,
          queues: [queue],
          queueType: kind,
        });
        await source.open(null);
        const first = await readCount(source, 4);
        const committed = JSON.parse(
          JSON.stringify({ [queue]: first.records[1]!.position.next }),
        ) as Watermark;
        proxy.cut();
        await new Promise((resolve) => setTimeout(resolve, 200));
        const failure = await readCount(source, 1).catch((error: unknown) => error);
        expect(TidemarkError.hasCode(failure, 'CONNECTION_FAILED')).toBe(true);
        expect((failure as TidemarkError).retriable).toBe(true);
        await source.acknowledge(committed);
        await source.seek(committed);
        const replayed = await readCount(source, 2, committed);
        expect(replayed.records.map(text)).toEqual(['c-2', 'c-3']);
        await expectQuiet(source);
        await source.close();
      } finally {
        await proxy.close();
      }
    },
  );
});
