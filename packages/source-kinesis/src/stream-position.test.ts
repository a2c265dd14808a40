import { describe, expect, it } from 'vitest';
import {
  advanceShard,
  compareSequenceNumbers,
  emptyStreamPosition,
  parseStreamPosition,
  type ShardLineage,
  ShardTree,
  type StreamPosition,
  startAfter,
} from './stream-position.js';

const shard = (shardId: string, parents: string[] = [], closed = false): ShardLineage => ({
  shardId,
  parents,
  closed,
});
const readable = (tree: ShardTree, position: StreamPosition) =>
  tree.readable(position).map((entry) => entry.shardId);

describe('ShardTree', () => {
  // s0 split into s1 and s2; s1 and s2 merged into s3.
  const tree = new ShardTree([
    shard('s0', [], true),
    shard('s1', ['s0'], true),
    shard('s2', ['s0'], true),
    shard('s3', ['s1', 's2']),
  ]);

  it('starts roots only, then children once their parents are finished', () => {
    let position = emptyStreamPosition();
    expect(readable(tree, position)).toEqual(['s0']);
    position = advanceShard(tree, position, 's0', '100');
    expect(readable(tree, position)).toEqual(['s0']);
    position = tree.finish('s0', position);
    expect(position).toEqual({ shards: {}, finished: ['s0'] });
    expect(readable(tree, position)).toEqual(['s1', 's2']);
  });

  it('holds a merged child until both parents are finished', () => {
    let position: StreamPosition = { shards: { s2: '7' }, finished: ['s0'] };
    position = tree.compact(position);
    expect(position.finished).toEqual([]);
    position = tree.finish('s1', position);
    expect(readable(tree, position)).toEqual(['s2']);
    position = tree.finish('s2', position);
    expect(readable(tree, position)).toEqual(['s3']);
    expect(position).toEqual({ shards: {}, finished: ['s1', 's2'] });
  });

  it('drops finished ids once a child has a position: the watermark keeps only the frontier', () => {
    let position: StreamPosition = { shards: {}, finished: ['s1', 's2'] };
    position = advanceShard(tree, position, 's3', '900:0');
    expect(position).toEqual({ shards: { s3: '900:0' }, finished: [] });
    expect(tree.isDone('s0', position)).toBe(true);
    expect(tree.isDone('s1', position)).toBe(true);
    expect(readable(tree, position)).toEqual(['s3']);
  });

  it('stays bounded over many generations of splits and merges', () => {
    const shards: ShardLineage[] = [shard('g0')];
    let position = emptyStreamPosition();
    for (let generation = 1; generation <= 50; generation += 1) {
      shards.push(shard(`g${generation}`, [`g${generation - 1}`]));
    }
    const grown = new ShardTree(shards);
    for (let generation = 0; generation <= 50; generation += 1) {
      expect(readable(grown, position)).toEqual([`g${generation}`]);
      position = advanceShard(grown, position, `g${generation}`, String(generation + 1));
      if (generation < 50) position = grown.finish(`g${generation}`, position);
      expect(Object.keys(position.shards).length + position.finished.length).toBeLessThanOrEqual(1);
    }
  });

  it('treats parents the stream no longer lists as done, and forgets them', () => {
    const trimmed = new ShardTree([shard('s3', ['s1', 's2'])]);
    const position = trimmed.compact({ shards: { s1: '5' }, finished: ['s2'] });
    expect(position).toEqual({ shards: {}, finished: [] });
    expect(readable(trimmed, position)).toEqual(['s3']);
  });

  it('starts an unpositioned shard at the trim horizon, or at the stream start time', () => {
    expect(tree.startOf('s0', emptyStreamPosition())).toEqual({ type: 'TRIM_HORIZON' });
    expect(tree.startOf('s0', emptyStreamPosition(1234))).toEqual({ type: 'AT_TIMESTAMP', time: 1234 });
    expect(tree.startOf('s0', { shards: { s0: '55' }, finished: [] })).toEqual({
      type: 'AFTER_SEQUENCE_NUMBER',
      sequenceNumber: '55',
    });
  });
});

describe('positions', () => {
  it('resumes inside an aggregated record at its sequence number, skipping what was delivered', () => {
    expect(startAfter('49590338271490256608559692538361571095921575989136588898:2')).toEqual({
      type: 'AT_SEQUENCE_NUMBER',
      sequenceNumber: '49590338271490256608559692538361571095921575989136588898',
      skipThrough: 2,
    });
  });

  it('compares 56-digit sequence numbers exactly', () => {
    const a = '49590338271490256608559692538361571095921575989136588898';
    const b = '49590338271490256608559692538361571095921575989136588899';
    expect(compareSequenceNumbers(a, b)).toBe(-1);
    expect(compareSequenceNumbers(b, a)).toBe(1);
    expect(compareSequenceNumbers(a, a)).toBe(0);
    expect(Number(a) === Number(b)).toBe(true);
  });

  it('parses what it writes and refuses anything else', () => {
    const value = { shards: { s1: '12:3', s2: '99' }, finished: ['s0'], from: 5 };
    expect(parseStreamPosition('x', value)).toEqual(value);
    expect(parseStreamPosition('x', undefined)).toBeUndefined();
    expect(() => parseStreamPosition('x', '12')).toThrow(/not an object/);
    expect(() => parseStreamPosition('x', { shards: { s1: 'abc' }, finished: [] })).toThrow(/position/);
    expect(() => parseStreamPosition('x', { shards: {}, finished: 'no' })).toThrow(/finished/);
    expect(() => parseStreamPosition('x', { shards: {}, finished: [], from: -1 })).toThrow(/start time/);
  });
});

describe('a long lineage of splits and merges', () => {
  it('answers quickly: 40 split-then-merge diamonds', () => {
    const shards: ShardLineage[] = [shard('m0')];
    for (let generation = 1; generation <= 40; generation += 1) {
      const parent = `m${generation - 1}`;
      shards.push(shard(`a${generation}`, [parent]), shard(`b${generation}`, [parent]));
      shards.push(shard(`m${generation}`, [`a${generation}`, `b${generation}`]));
    }
    const tree = new ShardTree(shards);
    const started = performance.now();
    expect(readable(tree, emptyStreamPosition())).toEqual(['m0']);
    expect(readable(tree, { shards: { m40: '1' }, finished: [] })).toEqual(['m40']);
    expect(tree.isDone('m0', { shards: {}, finished: ['a40'] })).toBe(true);
    expect(performance.now() - started).toBeLessThan(500);
  });
});
