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
  /** Progress of sources through a finite phase (a backfill), by source name. */
  readonly progress?: ReadonlyMap<string, { readonly done: number; readonly total?: number }> | undefined;
}

/** Formats one status line: state, records/s, counts, last commit, committed rowtime, lag, progress. */
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
    `rowtime ${rowtimeText(status.committed.rowtime)}`,
  ];
  if (extras.lag !== undefined) parts.push(`lag ${extras.lag}`);
  for (const [source, { done, total }] of extras.progress ?? []) {
    parts.push(
      total !== undefined && total > 0
        ? `${source} ${done}/${total} (${Math.floor((100 * done) / total)}%)`
        : `${source} ${done} done`,
    );
  }
  if (status.rewinds > 0) parts.push(`rewinds ${status.rewinds}`);
  if (status.lastError && status.state !== 'running') parts.push(`error: ${status.lastError}`);
  return parts.join('  ');
}

function rowtimeText(rowtime: number | null): string {
  if (rowtime === null) return '-';
  const date = new Date(rowtime);
  return Number.isNaN(date.getTime()) ? String(rowtime) : date.toISOString();
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

  /**
   * Erases the block: cursor up over its lines (CUU, which every VT100-style terminal knows,
   * unlike CPL), to column 0, clear to the end of the screen.
   */
  #clear(): void {
    if (this.#lines.length === 0) return;
    this.#stream.write(`\x1b[${this.#lines.length}A\r\x1b[J`);
  }

  /** Replaces the status block. */
  render(lines: string[]): void {
    const width = this.#stream.columns ?? 120;
    this.#clear();
    // A line that wraps would take two rows and break the cursor arithmetic: cut it (by code
    // points; control characters from error text would move the cursor, so they become spaces).
    this.#lines = lines.map((line) => {
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this removes
      const points = [...line.replace(/[\u0000-\u001f\u007f]/g, ' ')];
      return points.length > width - 1
        ? `${points.slice(0, Math.max(1, width - 2)).join('')}…`
        : points.join('');
    });
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
