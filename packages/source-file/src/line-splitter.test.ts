import { describe, expect, it } from 'vitest';
import { LineSplitter, type SplitLine } from './line-splitter.js';

function splitAll(input: Buffer, chunkSizes: number[], maxLineBytes = 1024, csv = false): SplitLine[] {
  const splitter = new LineSplitter(maxLineBytes, 0, { csv });
  const lines: SplitLine[] = [];
  let position = 0;
  let turn = 0;
  while (position < input.length) {
    const size = chunkSizes[turn++ % chunkSizes.length]!;
    splitter.push(Buffer.from(input.subarray(position, position + size)));
    position += size;
    for (let line = splitter.next(); line !== null; line = splitter.next()) lines.push(line);
  }
  const last = splitter.flush();
  if (last) lines.push(last);
  return lines;
}

describe('LineSplitter', () => {
  const text = Buffer.from('alpha\nbeta\r\n\ngamma delta\nunterminated');

  it('cuts the same lines and offsets whatever the chunk boundaries', () => {
    const reference = splitAll(text, [text.length]);
    expect(reference.map((line) => line.bytes.toString())).toEqual([
      'alpha',
      'beta',
      '',
      'gamma delta',
      'unterminated',
    ]);
    expect(reference.map((line) => line.end)).toEqual([6, 12, 13, 25, 37]);
    expect(reference.map((line) => line.terminated)).toEqual([true, true, true, true, false]);
    for (let size = 1; size <= text.length; size += 1) {
      const lines = splitAll(text, [size, size + 2]);
      expect(lines.map((line) => [line.bytes.toString(), line.end])).toEqual(
        reference.map((line) => [line.bytes.toString(), line.end]),
      );
    }
  });

  it('holds an unterminated line until its newline arrives', () => {
    const splitter = new LineSplitter(100, 10);
    splitter.push(Buffer.from('abc'));
    expect(splitter.next()).toBeNull();
    expect(splitter.lineStart).toBe(10);
    expect(splitter.readPosition).toBe(13);
    splitter.push(Buffer.from('def\nx'));
    const line = splitter.next();
    expect(line?.bytes.toString()).toBe('abcdef');
    expect(line?.end).toBe(17);
    expect(splitter.next()).toBeNull();
    expect(splitter.lineStart).toBe(17);
    expect(splitter.pendingBytes).toBe(1);
  });

  it('cuts a line longer than maxLineBytes and flags it, holding only its first bytes', () => {
    const long = `${'x'.repeat(50)}\nok\n`;
    for (const size of [3, 7, 64]) {
      const lines = splitAll(Buffer.from(long), [size], 10);
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatchObject({ overLimit: true, length: 50, end: 51 });
      expect(lines[0]!.bytes.toString()).toBe('x'.repeat(10));
      expect(lines[1]).toMatchObject({ overLimit: false, end: 54 });
    }
  });

  it('counts a CRLF ending as the ending, not as a byte of the line, against maxLineBytes', () => {
    const line = 'y'.repeat(100);
    const input = Buffer.from(`${line}\r\n${line}\n${line}x\r\nlast\r`);
    for (const size of [1, 7, 99, 100, 101, 102, 512]) {
      const lines = splitAll(input, [size], 100);
      expect(lines.map((split) => [split.overLimit, split.length, split.start, split.end])).toEqual([
        [false, 100, 0, 102],
        [false, 100, 102, 203],
        [true, 101, 203, 306],
        [false, 4, 306, 311],
      ]);
      expect(lines[0]!.bytes.toString()).toBe(line);
      expect(lines[1]!.bytes.toString()).toBe(line);
      expect(lines[3]!.bytes.toString()).toBe('last');
    }
  });

  it('csv: keeps a record whose quoted field holds newlines whole, at exact record offsets', () => {
    const input = Buffer.from(
      'id,name,note\r\n4,"Great product\nwould buy, again",5\n5,"say ""hi""\r\n",6\nx,y"z,7\n',
    );
    for (let size = 1; size <= input.length; size += 1) {
      const lines = splitAll(input, [size], 1024, true);
      expect(
        lines.map((line) => [line.bytes.toString(), line.start, line.end, line.embeddedNewlines]),
      ).toEqual([
        ['id,name,note', 0, 14, 0],
        ['4,"Great product\nwould buy, again",5', 14, 51, 1],
        ['5,"say ""hi""\r\n",6', 51, 70, 1],
        ['x,y"z,7', 70, 78, 0],
      ]);
    }
  });

  it('refuses a push before the previous chunk is consumed', () => {
    const splitter = new LineSplitter(10);
    splitter.push(Buffer.from('a\nb\n'));
    expect(() => splitter.push(Buffer.from('c'))).toThrow();
  });
});
