import { describe, expect, it } from 'vitest';
import { LOWEST_HORIZON, MysqlHorizon } from './mysql-horizon.js';

/** A fake session answering the horizon SELECT with the queued `[fresh, horizon]` rows. */
function session(answers: [number, string][]) {
  const statements: string[] = [];
  const run = async (sql: string) => {
    statements.push(sql.trim().split('\n')[0]!);
    if (sql.includes('tidemark-horizon')) return [answers.shift() ?? [0, 'x']];
    return [];
  };
  return { run, statements };
}

describe('mysql horizon', () => {
  it('reads the transaction list inside its own snapshot transaction and accepts only a refreshed list', async () => {
    const horizon = new MysqlHorizon('x', 1_000);
    const fake = session([
      [0, '2026-01-31 12:00:05.000000'],
      [1, '2026-01-31 12:00:01.000000'],
    ]);
    expect(await horizon.compute(fake.run)).toBe('2026-01-31 12:00:01.000000');
    expect(fake.statements.filter((statement) => statement.startsWith('START TRANSACTION'))).toHaveLength(2);
    expect(fake.statements.filter((statement) => statement === 'COMMIT')).toHaveLength(2);
  });

  it('never moves back, and keeps the previous horizon while the list stays stale', async () => {
    const horizon = new MysqlHorizon('x', 1_000);
    expect(await horizon.compute(session([[1, '2026-01-31 12:00:02.000000']]).run)).toBe(
      '2026-01-31 12:00:02.000000',
    );
    expect(await horizon.compute(session([[1, '2026-01-31 12:00:01.000000']]).run)).toBe(
      '2026-01-31 12:00:02.000000',
    );
    expect(await horizon.compute(session([]).run)).toBe('2026-01-31 12:00:02.000000');
    expect(horizon.stalled).toBe(1);
    expect(await new MysqlHorizon('x', 1_000).compute(session([]).run)).toBe(LOWEST_HORIZON);
  }, 20_000);
});
