import type { z } from 'zod';
import type { ConfigPath } from './positions.js';
import { redactSecrets } from './redact.js';

/** A problem found in a configuration, before it is placed in the file. */
export interface PathIssue {
  readonly path: ConfigPath;
  readonly message: string;
  /** Point at the key rather than the value (unknown options). */
  readonly atKey?: boolean;
}

type AnySchema = z.ZodType & { _zod: { def: Record<string, unknown> & { type: string } } };

const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch', 'nonoptional']);

function unwrap(schema: AnySchema): AnySchema {
  let current = schema;
  for (let depth = 0; depth < 20; depth += 1) {
    const def = current._zod.def;
    if (WRAPPERS.has(def.type)) current = def.innerType as AnySchema;
    else if (def.type === 'pipe') current = def.in as AnySchema;
    else if (def.type === 'lazy') current = (def.getter as () => AnySchema)();
    else break;
  }
  return current;
}

/** The option names an object schema accepts at `path` inside `schema`, when it is an object. */
export function allowedKeysAt(schema: z.ZodType, path: ConfigPath): string[] | undefined {
  let current = unwrap(schema as AnySchema);
  for (const segment of path) {
    const def = current._zod.def;
    if (def.type === 'object' && typeof segment === 'string') {
      const shape = def.shape as Record<string, AnySchema>;
      const next = shape[segment];
      if (!next) return undefined;
      current = unwrap(next);
    } else if (def.type === 'array' && typeof segment === 'number') {
      current = unwrap(def.element as AnySchema);
    } else if (def.type === 'record') {
      current = unwrap(def.valueType as AnySchema);
    } else {
      return undefined;
    }
  }
  const def = current._zod.def;
  return def.type === 'object' ? Object.keys(def.shape as object) : undefined;
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string')
    return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  return `${typeof value} ${String(value)}`;
}

function valueAt(raw: unknown, path: ConfigPath): unknown {
  let current = raw;
  for (const segment of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string | number, unknown>)[segment];
  }
  return current;
}

const quote = (value: unknown) => (typeof value === 'string' ? `'${value}'` : String(value));

/**
 * Turns zod issues into messages that say what is wrong and what is allowed. `raw` is the
 * input that was validated (to name the value received); `extraKeys` are keys the caller
 * accepts besides the schema's (e.g. `name` and `type` of a connector entry).
 */
export function describeZodIssues(
  error: z.ZodError,
  schema: z.ZodType,
  raw: unknown,
  prefix: ConfigPath = [],
  extraKeys: readonly string[] = [],
): PathIssue[] {
  const issues: PathIssue[] = [];
  // Values are quoted in messages, but never those of secret fields.
  const shown = redactSecrets(raw, schema);
  for (const issue of flatten(error.issues)) {
    const path = issue.path.filter((segment): segment is string | number => typeof segment !== 'symbol');
    const value = valueAt(shown, path);
    const full = [...prefix, ...path];
    switch (issue.code) {
      case 'unrecognized_keys': {
        const allowed = [...extraKeys, ...(allowedKeysAt(schema, path) ?? [])];
        for (const key of issue.keys) {
          issues.push({
            path: [...full, key],
            atKey: true,
            message: `unknown option '${key}'${allowed.length > 0 ? `; allowed: ${allowed.join(', ')}` : ''}`,
          });
        }
        break;
      }
      case 'invalid_type': {
        if (value === undefined) {
          issues.push({ path: full, message: `required option missing: expected ${issue.expected}` });
        } else {
          issues.push({ path: full, message: `expected ${issue.expected}, got ${describeValue(value)}` });
        }
        break;
      }
      case 'invalid_value': {
        const allowed = issue.values.map(quote).join(', ');
        issues.push({ path: full, message: `got ${describeValue(value)}; allowed: ${allowed}` });
        break;
      }
      case 'too_small':
      case 'too_big': {
        issues.push({
          path: full,
          message: `${issue.message.replace(/^Too (small|big): /, '')} (got ${describeValue(value)})`,
        });
        break;
      }
      default:
        issues.push({ path: full, message: issue.message.replace(/^Invalid input: /, '') });
    }
  }
  return issues;
}

/** Unions report each branch's issues; keep the branch that got furthest. */
function flatten(issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue[] {
  const out: z.core.$ZodIssue[] = [];
  for (const issue of issues) {
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      const best = [...issue.errors].sort((a, b) => a.length - b.length)[0]!;
      out.push(...flatten(best.map((inner) => ({ ...inner, path: [...issue.path, ...inner.path] }))));
    } else {
      out.push(issue);
    }
  }
  return out;
}
