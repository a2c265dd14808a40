// Detached server processes owned by `services up`: pid files, liveness, stopping, waiting.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

export const sleep = (milliseconds) => delay(milliseconds);

/** Full path of an executable found on PATH or in the sbin folders (RabbitMQ and Mosquitto live there), or undefined. */
export function findExecutable(name) {
  const folders = [
    ...(process.env.PATH ?? '').split(path.delimiter),
    '/usr/local/sbin',
    '/usr/sbin',
    '/sbin',
  ];
  for (const folder of folders) {
    if (folder === '') continue;
    const candidate = path.join(folder, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Runs a command to completion and returns its exit code and output. Never throws for a non-zero exit;
 * throws only when the command cannot be started at all.
 */
export function runCommand(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 120_000, ...options });
  if (result.error) throw result.error;
  return { code: result.status ?? 1, output: `${result.stdout ?? ''}${result.stderr ?? ''}`.trim() };
}

/** The command line of a live (not zombie) process, or undefined when there is none with that pid. */
function commandLineOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return undefined;
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    if (existsSync('/proc/self')) return undefined;
    try {
      process.kill(pid, 0);
      return '';
    } catch {
      return undefined;
    }
  }
}

/**
 * The pid recorded in `pidFile` when that process is still running and its command line contains
 * `marker` (so a recycled pid is never mistaken for ours); otherwise undefined, and a stale file is removed.
 */
export function ownedProcess(pidFile, marker) {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  const commandLine = Number.isInteger(pid) && pid > 0 ? commandLineOf(pid) : undefined;
  if (commandLine !== undefined && (commandLine === '' || commandLine.includes(marker))) return pid;
  rmSync(pidFile, { force: true });
  return undefined;
}

export function isRunning(pid, marker) {
  const commandLine = commandLineOf(pid);
  return commandLine !== undefined && (commandLine === '' || commandLine.includes(marker));
}

/**
 * Starts `command` in its own session with output written to `logFile` (truncated first), writes its pid to `pidFile`
 * and returns the pid. The caller waits for readiness itself.
 */
export function startDetached({ command, args, cwd, environment, logFile, pidFile }) {
  mkdirSync(path.dirname(logFile), { recursive: true });
  const log = openSync(logFile, 'w');
  try {
    const child = spawn(command, args, {
      cwd,
      env: { ...process.env, ...environment },
      detached: true,
      stdio: ['ignore', log, log],
    });
    child.unref();
    if (child.pid === undefined) throw new Error(`could not start ${command}`);
    writeFileSync(pidFile, `${child.pid}\n`);
    return child.pid;
  } finally {
    closeSync(log);
  }
}

/**
 * Sends SIGTERM to the process group of `pid`, waits up to `graceMilliseconds` for it to exit, then
 * SIGKILLs it. Resolves once it is gone.
 */
export async function stopProcess(pid, marker, graceMilliseconds = 60_000) {
  const signal = (name) => {
    try {
      process.kill(-pid, name);
    } catch {
      try {
        process.kill(pid, name);
      } catch {
        // Already gone.
      }
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + graceMilliseconds;
  while (isRunning(pid, marker)) {
    if (Date.now() > deadline) {
      signal('SIGKILL');
      await sleep(500);
      if (!isRunning(pid, marker)) return;
      throw new Error(`process ${pid} did not exit after SIGKILL`);
    }
    await sleep(250);
  }
}

/** The last `lines` lines of a log file, indented for printing under an error. */
export function logTail(logFile, lines = 30) {
  if (!existsSync(logFile)) return `    (no log at ${logFile})`;
  const text = readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines);
  return text.map((line) => `    ${line}`).join('\n');
}

/** True when something accepts TCP connections on host:port within `timeoutMilliseconds`. */
export function acceptsConnections(host, port, timeoutMilliseconds = 1500) {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const finish = (result) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMilliseconds, () => finish(false));
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

/**
 * Calls `probe` until it reports ok or `timeoutMilliseconds` pass; `stillStarting`, when given, is
 * checked between tries and ends the wait early when it returns false (the process died).
 */
export async function waitUntilAnswering(probe, { timeoutMilliseconds, stillStarting = () => true }) {
  const deadline = Date.now() + timeoutMilliseconds;
  let last = { ok: false, detail: 'not tried' };
  while (Date.now() < deadline) {
    last = await probe();
    if (last.ok) return last;
    if (!stillStarting()) return { ok: false, detail: `process exited (${last.detail})` };
    await sleep(1000);
  }
  return {
    ok: false,
    detail: `no answer within ${Math.round(timeoutMilliseconds / 1000)} s (${last.detail})`,
  };
}

/**
 * Runs `work` while holding `lockFile` (created exclusively, holding our pid), so two `up` runs never
 * start the same service twice. A lock whose holder is gone is taken over; a live holder is waited for
 * up to `timeoutMilliseconds`.
 */
export async function withLock(lockFile, work, timeoutMilliseconds = 180_000) {
  mkdirSync(path.dirname(lockFile), { recursive: true });
  const deadline = Date.now() + timeoutMilliseconds;
  for (;;) {
    try {
      writeFileSync(lockFile, `${process.pid}\n`, { flag: 'wx' });
      break;
    } catch (error) {
      if (error?.code !== 'EEXIST') throw error;
      const holder = Number(readFileSync(lockFile, 'utf8').trim());
      const holderAlive = Number.isInteger(holder) && holder > 0 && commandLineOf(holder) !== undefined;
      if (!holderAlive) {
        rmSync(lockFile, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`another 'services up' (pid ${holder}) holds ${lockFile}`);
      await sleep(500);
    }
  }
  try {
    return await work();
  } finally {
    rmSync(lockFile, { force: true });
  }
}
