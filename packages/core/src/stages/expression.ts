import jsep from 'jsep';
import { TidemarkError } from '../errors.js';
import { type Decimal, decimalFromLiteral, decimalToNumber, isDecimal, toDecimal, ZERO } from './decimal.js';

/**
 * Stage expressions: `price * quantity`, `order.lines[0].amount - discount`, `abs(delta)`.
 *
 * Parsed by jsep (a small, widely used expression *parser* that evaluates nothing) and compiled
 * here into closures over a whitelist of node types, so no expression can reach a global, a
 * prototype, `this`, or call anything but the functions below:
 *
 * - numeric literals; field names (`price`) and paths (`order.price`, `lines[0]`,
 *   `fields['unit price']`), resolved among the record's *own* properties only
 *   (`constructor`, `__proto__` of a plain object are missing fields, i.e. null);
 * - `+ - * / %`, unary `-` and `+`, parentheses;
 * - functions `abs(x)`, `floor(x)`, `ceil(x)`, `round(x)`, `round(x, places)`,
 *   `coalesce(a, b, …)` (first non-null).
 *
 * Arithmetic is exact decimal (see decimal.ts); a null operand makes the result null (SQL
 * NULL). A field that is neither a number, a decimal string nor null makes the expression throw
 * an EXPRESSION error at evaluation (the runtime's poison policy decides what happens to the
 * record); a malformed expression throws CONFIG_INVALID when compiled.
 */
export type Fields = Readonly<Record<string, unknown>>;

/** A compiled expression: returns a raw field value (a bare path), a decimal, or null. */
export type CompiledExpression = (fields: Fields) => unknown;

type Node = jsep.Expression;

/** big.js rounding modes: towards zero, away from zero, half to even. */
const ROUND_DOWN = 0;
const ROUND_UP = 3;
const ROUND_HALF_EVEN = 2;

const FUNCTIONS: ReadonlyMap<string, { arity: [number, number]; apply: (args: Decimal[]) => Decimal }> =
  new Map([
    ['abs', { arity: [1, 1], apply: ([x]) => x!.abs() }],
    ['floor', { arity: [1, 1], apply: ([x]) => x!.round(0, x!.gte(ZERO) ? ROUND_DOWN : ROUND_UP) }],
    ['ceil', { arity: [1, 1], apply: ([x]) => x!.round(0, x!.gte(ZERO) ? ROUND_UP : ROUND_DOWN) }],
    [
      'round',
      { arity: [1, 2], apply: ([x, places]) => x!.round(places ? places.toNumber() : 0, ROUND_HALF_EVEN) },
    ],
  ]);

const ARITHMETIC = new Set(['+', '-', '*', '/', '%']);

/** Thrown while evaluating an expression against a record (a type error in a field). */
export class ExpressionError extends TidemarkError {
  constructor(message: string, expression: string) {
    super('POISON_RECORD', message, {
      retriable: false,
      fix: `Make every field used by '${expression}' a number, a decimal string or null, or route such records elsewhere with a transform.`,
      details: { expression },
    });
  }
}

/**
 * Compiles `text`. Throws CONFIG_INVALID (with the reason and a fix) for anything outside the
 * grammar above. Pure; the result may be called concurrently.
 */
export function compileExpression(text: string): CompiledExpression {
  let tree: Node;
  try {
    tree = jsep(text);
  } catch (cause) {
    throw invalid(text, cause instanceof Error ? cause.message : String(cause));
  }
  return compileNode(tree, text);
}

/** Evaluates `compiled` and converts the result to a decimal (null for SQL NULL). */
export function evaluateDecimal(compiled: CompiledExpression, fields: Fields, text: string): Decimal | null {
  const value = toDecimal(compiled(fields));
  if (value === undefined) throw new ExpressionError(`'${text}' did not evaluate to a number`, text);
  return value;
}

/** A JSON-safe form of an expression result, for partition keys and output columns. */
export function toPlainValue(value: unknown): unknown {
  if (isDecimal(value)) return decimalToNumber(value);
  return value === undefined ? null : value;
}

function compileNode(node: Node, text: string): CompiledExpression {
  switch (node.type) {
    case 'Literal': {
      const literal = node as jsep.Literal;
      if (typeof literal.value === 'number') {
        const value = Number.isFinite(Number(literal.raw))
          ? decimalFromLiteral(literal.raw)
          : decimalFromLiteral(String(literal.value));
        return () => value;
      }
      if (typeof literal.value === 'string' || literal.value === null) {
        const value = literal.value;
        return () => value;
      }
      throw invalid(text, `literal ${literal.raw} is not allowed (numbers and strings only)`);
    }
    case 'Identifier':
    case 'MemberExpression': {
      const path = fieldPath(node, text);
      return (fields) => readPath(fields, path);
    }
    case 'UnaryExpression': {
      const unary = node as jsep.UnaryExpression;
      if (unary.operator !== '-' && unary.operator !== '+') {
        throw invalid(text, `operator '${unary.operator}' is not allowed (arithmetic only)`);
      }
      const operand = compileNode(unary.argument, text);
      const negate = unary.operator === '-';
      return (fields) => {
        const value = numeric(operand(fields), text);
        return value === null ? null : negate ? value.neg() : value;
      };
    }
    case 'BinaryExpression': {
      const binary = node as jsep.BinaryExpression;
      if (!ARITHMETIC.has(binary.operator)) {
        throw invalid(text, `operator '${binary.operator}' is not allowed (use + - * / %)`);
      }
      const left = compileNode(binary.left, text);
      const right = compileNode(binary.right, text);
      const operator = binary.operator;
      return (fields) => {
        const a = numeric(left(fields), text);
        const b = numeric(right(fields), text);
        if (a === null || b === null) return null;
        switch (operator) {
          case '+':
            return a.plus(b);
          case '-':
            return a.minus(b);
          case '*':
            return a.times(b);
          default:
            if (b.eq(ZERO)) return null;
            return operator === '/' ? a.div(b) : a.mod(b);
        }
      };
    }
    case 'CallExpression': {
      const call = node as jsep.CallExpression;
      if (call.callee.type !== 'Identifier') throw invalid(text, 'only the built-in functions can be called');
      const name = (call.callee as jsep.Identifier).name;
      const args = call.arguments.map((argument) => compileNode(argument, text));
      if (name === 'coalesce') {
        if (args.length === 0) throw invalid(text, 'coalesce() needs at least one argument');
        return (fields) => {
          for (const argument of args) {
            const value = argument(fields);
            if (value !== null && value !== undefined) return value;
          }
          return null;
        };
      }
      const fn = FUNCTIONS.get(name);
      if (!fn) {
        throw invalid(
          text,
          `unknown function '${name}' (allowed: ${[...FUNCTIONS.keys(), 'coalesce'].join(', ')})`,
        );
      }
      if (args.length < fn.arity[0] || args.length > fn.arity[1]) {
        throw invalid(text, `${name}() takes ${fn.arity.join(' to ')} argument(s), got ${args.length}`);
      }
      return (fields) => {
        const values: Decimal[] = [];
        for (const argument of args) {
          const value = numeric(argument(fields), text);
          if (value === null) return null;
          values.push(value);
        }
        return fn.apply(values);
      };
    }
    default:
      throw invalid(text, `${node.type} is not allowed (fields, numbers, + - * / %, and functions only)`);
  }
}

/** Field path of an Identifier or a chain of MemberExpressions with literal properties. */
function fieldPath(node: Node, text: string): readonly (string | number)[] {
  if (node.type === 'Identifier') return [(node as jsep.Identifier).name];
  if (node.type !== 'MemberExpression')
    throw invalid(text, 'a field path may only contain names and literals');
  const member = node as jsep.MemberExpression;
  const base = fieldPath(member.object, text);
  if (!member.computed) return [...base, (member.property as jsep.Identifier).name];
  if (member.property.type !== 'Literal')
    throw invalid(text, 'computed paths must use a literal: a[0], a["b"]');
  const key = (member.property as jsep.Literal).value;
  if (typeof key !== 'string' && typeof key !== 'number')
    throw invalid(text, 'path keys are names or numbers');
  return [...base, key];
}

/** Reads a path among own properties (and list indices) only; anything missing is null. */
function readPath(fields: Fields, path: readonly (string | number)[]): unknown {
  let current: unknown = fields;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return null;
    if (Array.isArray(current) && !Number.isInteger(Number(key))) return null;
    if (!Object.hasOwn(current, key)) return null;
    current = (current as Record<string | number, unknown>)[key];
  }
  return current === undefined ? null : current;
}

function numeric(value: unknown, text: string): Decimal | null {
  const decimal = toDecimal(value);
  if (decimal === undefined) {
    throw new ExpressionError(`'${text}' needs numbers but a field holds a ${describe(value)}`, text);
  }
  return decimal;
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'list';
  return typeof value === 'string' ? 'non-numeric string' : typeof value;
}

function invalid(text: string, reason: string): TidemarkError {
  return new TidemarkError('CONFIG_INVALID', `invalid expression '${text}': ${reason}`, {
    fix: 'Write the expression with field names, numbers, + - * / % and abs/floor/ceil/round/coalesce, e.g. price * quantity.',
    details: { expression: text },
  });
}
