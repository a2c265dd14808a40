import type { PipelineStatus } from '@tidemark/core';
import { describe, expect, it } from 'vitest';
import { formatStatusLine, humanLogLine, StatusBoard } from './status-board.js';

describe('status line', () => {
  const status: PipelineStatus = {
    id: 'orders',
    state: 'running',
    recordsIn: 1200,
    recordsOut: 1100,
    commits: 3,
    rewinds: 0,
    lastCommitAt: 10_000,
    committed: { watermarks: {}, rowtime: Date.parse('2026-01-05T09:00:00Z'), committedAt: 10_000 },
    lastError: null,
  };

  it('shows rate, counts, last commit, committed rowtime and lag', () => {
    const line = formatStatusLine(status, 250.4, 12_500, { lag: 7 });
    expect(line).toBe(
      'orders  running  250 rec/s  in 1200  out 1100  commits 3  last commit 2.5s ago  rowtime 2026-01-05T09:00:00.000Z  lag 7',
    );
  });

  it('shows the progress of sources in a backfill, with a percentage when the total is known', () => {
    const progress = new Map([
      ['orders', { done: 250, total: 1000 }],
      ['events', { done: 42 }],
    ]);
    const line = formatStatusLine(status, 0, 12_500, { progress });
    expect(line.endsWith('orders 250/1000 (25%)  events 42 done')).toBe(true);
  });

  it('turns pino JSON into a short human line', () => {
    const line = humanLogLine(
      JSON.stringify({
        level: 40,
        time: Date.parse('2026-01-01T10:11:12Z'),
        pid: 1,
        msg: 'slow',
        pipeline: 'p',
      }),
    );
    expect(line).toBe('10:11:12 WARN slow pipeline=p');
  });
});

/** The rows a VT100-style terminal shows after `output` (newline, CR, CUU, ED only). */
function screen(output: string): string[] {
  const rows: string[] = [''];
  let row = 0;
  let column = 0;
  for (let index = 0; index < output.length; index += 1) {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the test reads the ANSI escapes the board writes
    const control = /^\x1b\[(\d*)([A-Za-z])/.exec(output.slice(index));
    if (control) {
      index += control[0].length - 1;
      if (control[2] === 'A') row = Math.max(0, row - Number(control[1] || 1));
      else if (control[2] === 'J') {
        rows.length = row + 1;
        rows[row] = rows[row]!.slice(0, column);
      } else throw new Error(`unexpected escape ${control[0]}`);
      continue;
    }
    const char = output[index]!;
    if (char === '\n') {
      row += 1;
      column = 0;
      rows[row] ??= '';
    } else if (char === '\r') column = 0;
    else {
      const current = rows[row]!;
      rows[row] = current.slice(0, column) + char + current.slice(column + 1);
      column += 1;
    }
  }
  return rows;
}

describe('StatusBoard', () => {
  it('updates the status line in place and prints log lines above it', () => {
    let output = '';
    const stream = {
      columns: 40,
      write: (text: string) => {
        output += text;
        return true;
      },
    } as unknown as NodeJS.WriteStream;
    const board = new StatusBoard(stream);
    for (let second = 0; second < 5; second += 1) board.render([`orders running ${second}`]);
    board.print('a log line');
    board.render(['orders running 5', `second pipeline ${'x'.repeat(80)}\nwith a newline`]);
    expect(screen(output)).toEqual([
      'a log line',
      'orders running 5',
      `second pipeline ${'x'.repeat(22)}…`,
      '',
    ]);
  });

  it('prints a committed rowtime that is no time as its number', () => {
    const line = formatStatusLine(
      {
        id: 'p',
        state: 'running',
        recordsIn: 0,
        recordsOut: 0,
        commits: 0,
        rewinds: 0,
        lastCommitAt: null,
        committed: { watermarks: {}, rowtime: 1.7e18, committedAt: null },
        lastError: null,
      },
      0,
      0,
    );
    expect(line).toContain('rowtime 1700000000000000000');
  });
});
