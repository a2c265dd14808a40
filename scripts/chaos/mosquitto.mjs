// A private Mosquitto instance for chaos and bench runs: its own port, its own persistence
// directory, saved every second, with an offline queue large enough for the run. Restarted with
// SIGTERM, which writes the whole state to disk before exiting (Mosquitto acknowledges before
// it writes: a SIGKILL loses what the last autosave missed).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { findExecutable } from '../lib/processes.mjs';
import { sleep } from './harness.mjs';

async function freePort() {
  const probe = net.createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => probe.once('listening', resolve));
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

function answers(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export class Mosquitto {
  constructor({ maxQueued = 1_000_000, maxInflight = 0 } = {}) {
    this.directory = fs.mkdtempSync(path.join(os.tmpdir(), 'tidemark-mosquitto-'));
    this.maxQueued = maxQueued;
    this.maxInflight = maxInflight;
    this.port = 0;
    this.child = null;
    this.restarts = 0;
  }

  get url() {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  async start() {
    if (this.port === 0) this.port = await freePort();
    const config = path.join(this.directory, 'mosquitto.conf');
    const lines = [
      `listener ${this.port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence true',
      `persistence_location ${this.directory}/`,
      'autosave_interval 1',
      `max_queued_messages ${this.maxQueued}`,
      `max_inflight_messages ${this.maxInflight}`,
      // Started as root, mosquitto switches to its own user, who cannot write this directory.
      ...(process.getuid?.() === 0 ? ['user root'] : []),
    ];
    fs.writeFileSync(config, `${lines.join('\n')}\n`);
    this.child = spawn(findExecutable('mosquitto') ?? 'mosquitto', ['-c', config], { stdio: 'ignore' });
    const failed = new Promise((_, reject) =>
      this.child.once('error', (error) => reject(new Error(`cannot start mosquitto: ${error.message}`))),
    );
    const deadline = Date.now() + 10_000;
    while (!(await Promise.race([answers(this.port), failed]))) {
      if (Date.now() > deadline) throw new Error(`mosquitto did not listen on ${this.port} within 10 s`);
      await sleep(50);
    }
  }

  async stop(signal = 'SIGTERM') {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }

  async restart(downMs = 0) {
    await this.stop('SIGTERM');
    await sleep(downMs);
    await this.start();
    this.restarts += 1;
  }

  async dispose() {
    await this.stop('SIGTERM');
    fs.rmSync(this.directory, { recursive: true, force: true });
  }
}

/**
 * Creates the persistent session (QoS 1; MQTT 5 unless `protocolVersion` is 4) that a reader
 * resumes later: a broker keeps only messages published after a subscription exists.
 */
export async function createSession(url, clientId, filter, protocolVersion = 5) {
  const client = await mqtt.connectAsync(url, {
    clientId,
    clean: false,
    protocolVersion,
    reconnectPeriod: 0,
    ...(protocolVersion === 5 ? { properties: { sessionExpiryInterval: 3_600 } } : {}),
  });
  await client.subscribeAsync(filter, { qos: 1 });
  await client.endAsync();
}
