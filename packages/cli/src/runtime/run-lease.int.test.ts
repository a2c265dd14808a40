import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../cli.js';

const brokers = (process.env.TIDEMARK_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const pipeline = `lease-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
const directory = mkdtempSync(join(tmpdir(), 'tidemark-run-lease-'));
const file = join(directory, 'pipeline.yaml');
let busy: Server;
let busyPort = 0;

beforeAll(async () => {
  mkdirSync(join(directory, 'in'));
  writeFileSync(join(directory, 'in', 'a.log'), 'one\n');
  writeFileSync(
    file,
    [
      'pipelines:',
      `  - name: ${pipeline}`,
      '    sources:',
      '      - name: logs',
      '        type: file',
      `        directory: ${join(directory, 'in')}`,
      '        pattern: "*.log"',
      '    sink:',
      '      type: kafka',
      `      brokers: [${brokers.map((broker) => JSON.stringify(broker)).join(', ')}]`,
      `      topic: ${pipeline}`,
    ].join('\n'),
  );
  busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  busyPort = (busy.address() as { port: number }).port;
});

afterAll(async () => {
  await new Promise((resolve) => busy.close(resolve));
  rmSync(directory, { recursive: true, force: true });
});

/** A stream that drops what it is given (the CLI's output is not under test here). */
const discard = () =>
  Object.assign(new Writable({ write: (_chunk, _encoding, done) => done() }), {
    isTTY: false,
  }) as unknown as NodeJS.WriteStream;

describe('tidemark run and the run lease', () => {
  it('holds no run lease after the metrics port fails to bind', async () => {
    const code = await main(
      ['run', file, '--metrics-port', String(busyPort), '--metrics-host', '127.0.0.1'],
      {
        stdout: discard(),
        stderr: discard(),
        environment: { ...process.env },
      },
    );
    expect(code).not.toBe(0);
    // A lease join started before the failure completes within a second or two here.
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    const admin = new kafkajs.Kafka({ brokers, logLevel: kafkajs.logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const { groups } = await admin.describeGroups([`tidemark.${pipeline}.lease`]);
      expect(groups[0]?.members ?? []).toEqual([]);
    } finally {
      await admin.disconnect();
    }
  }, 30_000);
});
