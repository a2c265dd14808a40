import { describe, expect, it } from 'vitest';
import { TidemarkError } from '../errors.js';
import { isDecimal } from './decimal.js';
import { compileExpression, evaluateDecimal, toPlainValue } from './expression.js';

const evaluate = (text: string, fields: Record<string, unknown> = {}) =>
  toPlainValue(compileExpression(text)(fields));

describe('compileExpression', () => {
  it('computes exact decimals for money-like values', () => {
    expect(evaluate('price * quantity', { price: 19.99, quantity: 3 })).toBe(59.97);
    expect(evaluate('a + b', { a: 0.1, b: 0.2 })).toBe(0.3);
    expect(evaluate('a - b', { a: '100.10', b: '0.05' })).toBe(100.05);
    expect(evaluate('-(a) + +b % 4', { a: 1.5, b: 10 })).toBe(0.5);
    expect(evaluate('1 / 3')).toBe(0.3333333333333333);
  });

  it('reads nested paths among own properties only', () => {
    const fields = { order: { lines: [{ amount: 7 }], 'unit price': 2 } };
    expect(evaluate('order.lines[0].amount * order["unit price"]', fields)).toBe(14);
    expect(evaluate('missing', fields)).toBeNull();
    expect(evaluate('order.missing.deeper', fields)).toBeNull();
    for (const text of ['constructor', 'toString', '__proto__', 'order.constructor', 'order.lines.length']) {
      expect(evaluate(text, fields), text).toBeNull();
    }
    expect(evaluate('order["constructor"]', fields)).toBeNull();
    expect(evaluate('order["__proto__"]', fields)).toBeNull();
    expect(evaluate('__proto__ + 1', JSON.parse('{"__proto__": 41}'))).toBe(42);
  });

  it('propagates null and gives null for division by zero', () => {
    expect(evaluate('price * quantity', { price: null, quantity: 2 })).toBeNull();
    expect(evaluate('price / quantity', { price: 1, quantity: 0 })).toBeNull();
    expect(evaluate('coalesce(discount, 0) + 1', {})).toBe(1);
  });

  it('offers abs, floor, ceil and round (half to even)', () => {
    expect(evaluate('abs(x)', { x: -2.5 })).toBe(2.5);
    expect(evaluate('floor(x)', { x: -2.5 })).toBe(-3);
    expect(evaluate('ceil(x)', { x: -2.5 })).toBe(-2);
    expect(evaluate('floor(x)', { x: 2.5 })).toBe(2);
    expect(evaluate('ceil(x)', { x: 2.5 })).toBe(3);
    expect(evaluate('round(x)', { x: 2.5 })).toBe(2);
    expect(evaluate('round(x)', { x: 3.5 })).toBe(4);
    expect(evaluate('round(x, 2)', { x: 1.005 })).toBe(1);
  });

  it('rejects everything outside the grammar at compile time', () => {
    for (const text of [
      'a > b',
      'a && b',
      'a ? b : c',
      'this',
      '[1, 2]',
      'a.b()',
      'eval("1")',
      'constructor.constructor("return process")()',
      'a[b]',
      '!a',
      'price *',
      '',
    ]) {
      expect(() => compileExpression(text), text).toThrow(TidemarkError);
      try {
        compileExpression(text);
      } catch (thrown) {
        expect((thrown as TidemarkError).code, text).toBe('CONFIG_INVALID');
        expect((thrown as TidemarkError).fix, text).toBeDefined();
      }
    }
  });

  it('throws a poison error naming the expression for non-numeric fields', () => {
    const compiled = compileExpression('price * quantity');
    let caught: unknown;
    try {
      compiled({ price: 'cheap', quantity: 1 });
    } catch (thrown) {
      caught = thrown;
    }
    expect(TidemarkError.hasCode(caught, 'POISON_RECORD')).toBe(true);
    expect((caught as Error).message).toContain("'price * quantity'");
    expect(() => compiled({ price: true, quantity: 1 })).toThrow(/boolean/);
  });

  it('keeps raw values for bare paths (partition keys) and converts results', () => {
    expect(compileExpression('product')({ product: 'p-1' })).toBe('p-1');
    expect(isDecimal(compileExpression('n + 0')({ n: 2 }))).toBe(true);
    expect(evaluateDecimal(compileExpression('n'), { n: 2 }, 'n')?.toString()).toBe('2');
    expect(() => evaluateDecimal(compileExpression('n'), { n: 'x' }, 'n')).toThrow(/did not evaluate/);
  });
});
