import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/** A free TCP port on the loopback interface (the kernel picks it; the probe closes at once). */
export async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  probe.close();
  await once(probe, 'close');
  return port;
}

/** Mosquitto's programs live in sbin, which a non-login PATH may leave out: look there too. */
function mosquittoProgram(name: string): string {
  const folders = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const folder of folders) {
    if (folder !== '' && existsSync(join(folder, name))) return join(folder, name);
  }
  return name;
}

async function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.connect(port, '127.0.0.1');
  });
}

/**
 * A private Mosquitto instance for tests that restart the broker or need a password file: on a
 * spare port, persisting to a temp directory every second, with a large offline queue.
 * The `mosquitto` binary must be installed; `start` fails saying so otherwise.
 */
export class PrivateMosquitto {
  readonly directory = mkdtempSync(join(tmpdir(), 'tidemark-mosquitto-'));
  port = 0;
  #process: ChildProcess | null = null;

  constructor(readonly options: { users?: Record<string, string> } = {}) {}

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (this.port === 0) this.port = await freePort();
    const lines = [
      `listener ${this.port} 127.0.0.1`,
      'persistence true',
      `persistence_location ${this.directory}/`,
      'autosave_interval 1',
      'max_queued_messages 100000',
      'max_inflight_messages 100',
      // Started as root, mosquitto would switch to its own user, who cannot read this directory.
      ...(process.getuid?.() === 0 ? ['user root'] : []),
    ];
    const users = this.options.users;
    if (users) {
      const passwordFile = join(this.directory, 'passwords');
      writeFileSync(passwordFile, '');
      for (const [user, password] of Object.entries(users)) {
        execFileSync(mosquittoProgram('mosquitto_passwd'), ['-b', passwordFile, user, password]);
      }
      lines.push('allow_anonymous false', `password_file ${passwordFile}`);
    } else {
      lines.push('allow_anonymous true');
    }
    const configFile = join(this.directory, 'mosquitto.conf');
    writeFileSync(configFile, `${lines.join('\n')}\n`);
    const child = spawn(mosquittoProgram('mosquitto'), ['-c', configFile], { stdio: 'ignore' });
    this.#process = child;
    const spawnError = new Promise<never>((_, reject) =>
      child.once('error', (error) =>
        reject(new Error(`cannot start mosquitto (is it installed?): ${error.message}`)),
      ),
    );
    const deadline = Date.now() + 10_000;
    while (!(await Promise.race([answers(this.port), spawnError]))) {
      if (Date.now() > deadline) throw new Error(`mosquitto did not listen on ${this.port} within 10 s`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Stops the broker: SIGTERM saves the persistence file, SIGKILL loses what the last autosave missed. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.#process;
    this.#process = null;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }

  async restart(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.stop(signal);
    await this.start();
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.directory, { recursive: true, force: true });
  }
}
