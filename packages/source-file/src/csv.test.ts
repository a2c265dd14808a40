import { describe, expect, it } from 'vitest';
import { parseCsvRecord } from './csv.js';

describe('parseCsvRecord', () => {
  it.each([
    ['a,b,c', ['a', 'b', 'c']],
    ['', ['']],
    ['a,,', ['a', '', '']],
    ['"x, y",2', ['x, y', '2']],
    ['"say ""hi""",z', ['say "hi"', 'z']],
    ['""', ['']],
    [' a , b ', [' a ', ' b ']],
    ['ab"c,d', ['ab"c', 'd']],
    ['4,"Great product\nwould buy, again",5', ['4', 'Great product\nwould buy, again', '5']],
    ['1,"two\r\nlines"', ['1', 'two\r\nlines']],
  ])('parses %j', (line, fields) => {
    expect(parseCsvRecord(line)).toEqual({ fields });
  });

  it.each([
    ['"open, never closed', /Quote Not Closed/],
    ['"closed"junk,b', /Invalid Closing Quote/],
  ])('rejects %j', (line, message) => {
    const result = parseCsvRecord(line);
    expect('error' in result && result.error).toMatch(message);
  });
});
