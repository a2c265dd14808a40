import { describe, expect, it } from 'vitest';
import {
  type PlannedSource,
  planTasks,
  resplitWatermarks,
  sliceOwns,
  splitBySlice,
  splitUnitList,
  stableUnitHash,
  taskIdOf,
  taskOfHashedUnit,
} from './split.js';

const partitioned: PlannedSource['connector'] = {
  type: 'kafka',
  split: (config, count) => splitBySlice(config as object, count),
  taskOfUnit: (unit, count) => Number(unit.slice(unit.lastIndexOf('/') + 1)) % count,
};
const whole: PlannedSource['connector'] = { type: 'whole' };

describe('task split', () => {
  it('hands every task a slice of a splittable source and task 0 the whole of one that cannot split', () => {
    const plans = planTasks(
      [
        { name: 'orders', connector: partitioned, options: { topics: ['o'] } },
        { name: 'rates', connector: whole, options: { url: 'x' } },
      ],
      3,
    );
    expect(plans.map((plan) => plan.taskId)).toEqual(['task-0', 'task-1', 'task-2']);
    expect(plans[1]!.sources).toEqual([
      { name: 'orders', connector: partitioned, options: { topics: ['o'], task: { index: 1, count: 3 } } },
    ]);
    expect(plans[0]!.sources.map((source) => source.name)).toEqual(['orders', 'rates']);
    expect(plans[2]!.sources.map((source) => source.name)).toEqual(['orders']);
  });

  it('leaves the options untouched for one task', () => {
    const plans = planTasks([{ name: 'orders', connector: partitioned, options: { topics: ['o'] } }], 1);
    expect(plans).toEqual([
      {
        index: 0,
        taskId: 'task-0',
        sources: [{ name: 'orders', connector: partitioned, options: { topics: ['o'] } }],
      },
    ]);
  });

  it('rejects a split that returns the wrong number of configurations', () => {
    const broken = { type: 'broken', split: () => [{}] };
    expect(() => planTasks([{ name: 's', connector: broken, options: {} }], 2)).toThrow(/split into 1 tasks/);
  });

  it('owns by remainder and hashes stably', () => {
    expect(sliceOwns(undefined, 7)).toBe(true);
    expect(sliceOwns({ index: 1, count: 4 }, 5)).toBe(true);
    expect(sliceOwns({ index: 1, count: 4 }, 6)).toBe(false);
    expect(stableUnitHash('dev:ino:birth')).toBe(stableUnitHash('dev:ino:birth'));
    expect(stableUnitHash('a')).not.toBe(stableUnitHash('b'));
    expect(stableUnitHash('')).toBe(0x811c9dc5);
    expect(taskIdOf(3)).toBe('task-3');
  });
});

describe('resplitWatermarks', () => {
  const sources: PlannedSource[] = [{ name: 'orders', connector: partitioned, options: {} }];

  it('moves every unit to its new task and takes each from its old owner only', () => {
    const old = [
      { orders: { 't/0': '10', 't/2': '30', 't/1': '1' } }, // 't/1' is stale: task 1 owns it
      { orders: { 't/1': '21', 't/3': '41' } },
    ];
    const result = resplitWatermarks(old, sources, 3);
    expect(result).toEqual([
      { orders: { 't/0': '10', 't/3': '41' } },
      { orders: { 't/1': '21' } },
      { orders: { 't/2': '30' } },
    ]);
  });

  it('merges back into one task', () => {
    const result = resplitWatermarks([{ orders: { 't/0': '5' } }, { orders: { 't/1': '6' } }], sources, 1);
    expect(result).toEqual([{ orders: { 't/0': '5', 't/1': '6' } }]);
  });

  it('refuses a source that splits but cannot place its units', () => {
    const files: PlannedSource = {
      name: 'logs',
      connector: { type: 'file', split: (c, n) => splitBySlice(c as object, n) },
      options: {},
    };
    expect(() => resplitWatermarks([{}, {}], [files], 3)).toThrow(/cannot re-split/);
    expect(resplitWatermarks([{}, {}], [files], 2)).toEqual([{}, {}]);
  });
});

describe('splitUnitList', () => {
  it('places every unit in the task its name hashes to, null for a task without units', () => {
    const parts = splitUnitList(['orders', 'payments', 'refunds'], 8);
    expect(parts).toHaveLength(8);
    expect(parts.flatMap((part) => part ?? []).sort()).toEqual(['orders', 'payments', 'refunds']);
    parts.forEach((part, index) => {
      for (const unit of part ?? []) expect(taskOfHashedUnit(unit, 8)).toBe(index);
    });
    expect(parts.filter((part) => part === null).length).toBeGreaterThanOrEqual(5);
  });

  it('leaves a source out of the tasks its split gives nothing', () => {
    const queues: PlannedSource['connector'] = {
      type: 'amqp',
      split: (config, count) =>
        splitUnitList((config as { queues: string[] }).queues, count).map((part) =>
          part ? { queues: part } : null,
        ),
    };
    const plans = planTasks([{ name: 'q', connector: queues, options: { queues: ['only'] } }], 3);
    expect(plans.filter((plan) => plan.sources.length === 1)).toHaveLength(1);
    expect(plans.flatMap((plan) => plan.sources.map((source) => source.options))).toEqual([
      { queues: ['only'] },
    ]);
  });
});
