import { describe, expect, it } from 'vitest';
import { formatTaskStatus, type PipelineTaskStatus, type TaskStatusRow } from './tasks.js';

const unowned: TaskStatusRow = {
  task: 1,
  owner: null,
  state: 'unowned',
  lastCommitAt: null,
  commitAgeSeconds: null,
  lag: null,
  watermarks: {},
};

function status(overrides: Partial<PipelineTaskStatus>): PipelineTaskStatus {
  return {
    pipeline: 'orders',
    tasks: 2,
    grouped: true,
    groupState: 'Stable',
    rows: [],
    standby: [],
    ...overrides,
  };
}

describe('formatTaskStatus', () => {
  it('shows every task with owner, last commit, age and lag, then the stand-bys', () => {
    const text = formatTaskStatus(
      status({
        rows: [
          {
            task: 0,
            owner: 'a:1',
            state: 'owned',
            lastCommitAt: 0,
            commitAgeSeconds: 3,
            lag: 12,
            watermarks: {},
          },
          unowned,
        ],
        standby: ['b:2'],
      }),
    );
    const lines = text.split('\n');
    expect(lines[0]).toBe('pipeline orders: 2 tasks, group Stable');
    expect(lines[2]).toMatch(/^ {2}0 +owned +a:1 +1970-01-01T00:00:00.000Z +3s +12$/);
    expect(lines[3]).toMatch(/^ {2}1 +unowned +- +- +- +-$/);
    expect(lines[4]).toBe('  stand-by: b:2');
  });

  it('says when no instance runs the pipeline', () => {
    const text = formatTaskStatus(status({ tasks: 1, groupState: 'Dead', rows: [{ ...unowned, task: 0 }] }));
    expect(text.split('\n')[0]).toBe('pipeline orders: 1 task, no instance running');
  });
});
