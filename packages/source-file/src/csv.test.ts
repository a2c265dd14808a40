import { describe, expect, it } from 'vitest';
import { parseCsvLine } from './csv.js';

describe('parseCsvLine', () => {
  it.each([
    ['a,b,c', ['a', 'b', 'c']],
    ['', ['']],
    ['a,,', ['a', '', '']],
    ['"x, y",2', ['x, y', '2']],
    ['"say ""hi""",z', ['say "hi"', 'z']],
    ['""', ['']],
    [' a , b ', [' a ', ' b ']],
    ['ab"c,d', ['ab"c', 'd']],
  ])('parses %j', (line, fields) => {
    expect(parseCsvLine(line)).toEqual({ fields });
  });

  it.each([
    ['"open, never closed', /unterminated/],
    ['"closed"junk,b', /after closing quote/],
  ])('rejects %j', (line, message) => {
    const result = parseCsvLine(line);
    expect('error' in result && result.error).toMatch(message);
  });
});
