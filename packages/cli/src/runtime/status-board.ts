import type { PipelineStatus } from '@tidemark/core';

const LEVELS: Readonly<Record<number, string>> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};

/** Extra figures the status line shows per pipeline. */
export interface StatusExtras {
  readonly lag?: number | undefined;
}

/** Formats one status line: state, records/s, counts, last commit, committed rowtime, lag. */
export function formatStatusLine(
  status: PipelineStatus,
  recordsPerSecond: number,
  now: number,
  extras: StatusExtras = {},
): string {
  const parts = [
    status.id,
    status.state,
    `${Math.round(recordsPerSecond)} rec/s`,
    `in ${status.recordsIn}`,
    `out ${status.recordsOut}`,
    `commits ${status.commits}`,
    status.lastCommitAt === null
      ? 'no commit yet'
      : `last commit ${((now - status.lastCommitAt) / 1000).toFixed(1)}s ago`,
    status.committed.rowtime === null
      ? 'rowtime -'
      : `rowtime ${new Date(status.committed.rowtime).toISOString()}`,
  ];
  if (extras.lag !== undefined) parts.push(`lag ${extras.lag}`);
  if (status.rewinds > 0) parts.push(`rewinds ${status.rewinds}`);
  if (status.lastError && status.state !== 'running') parts.push(`error: ${status.lastError}`);
  return parts.join('  ');
}

/**
 * A block of live status lines at the bottom of a terminal, with log lines printed above it.
 * Only for TTYs: it moves the cursor with ANSI escapes.
 */
export class StatusBoard {
  readonly #stream: NodeJS.WriteStream;
  #lines: string[] = [];

  constructor(stream: NodeJS.WriteStream) {
    this.#stream = stream;
  }

  #clear(): void {
    if (this.#lines.length === 0) return;
    this.#stream.write(`\x1b[${this.#lines.length}F\x1b[J`);
  }

  /** Replaces the status block. */
  render(lines: string[]): void {
    const width = this.#stream.columns ?? 120;
    this.#clear();
    this.#lines = lines.map((line) => (line.length > width - 1 ? `${line.slice(0, width - 2)}…` : line));
    if (this.#lines.length > 0) this.#stream.write(`${this.#lines.join('\n')}\n`);
  }

  /** Prints `text` above the status block. */
  print(text: string): void {
    const lines = this.#lines;
    this.#clear();
    this.#lines = [];
    this.#stream.write(text.endsWith('\n') ? text : `${text}\n`);
    this.render(lines);
  }

  /** A pino destination that prints compact human log lines above the block. */
  destination(): { write(chunk: string): void } {
    return {
      write: (chunk: string) => {
        for (const line of chunk.split('\n')) if (line.trim() !== '') this.print(humanLogLine(line));
      },
    };
  }
}

/** Turns one pino JSON line into `HH:MM:SS LEVEL msg key=value …`. */
export function humanLogLine(json: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const { level, time, msg, pid: _pid, hostname: _hostname, ...fields } = entry;
  const clock = typeof time === 'number' ? new Date(time).toISOString().slice(11, 19) : '';
  const rest = Object.entries(fields)
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' ');
  return `${clock} ${LEVELS[level as number] ?? String(level)} ${String(msg ?? '')}${rest ? ` ${rest}` : ''}`;
}
