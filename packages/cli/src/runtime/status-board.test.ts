import type { PipelineStatus } from '@tidemark/core';
import { describe, expect, it } from 'vitest';
import { formatStatusLine, humanLogLine } from './status-board.js';

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
