import type { z } from 'zod';
import { REDACTED, redactSecrets } from './redact.js';
import { allowedKeysAt, type ConfigPath } from './schema-walk.js';

/** A problem found in a configuration, with its path (placed in the YAML file by the caller). */
export interface PathIssue {
  readonly path: ConfigPath;
  readonly message: string;
  /** Point at the key rather than the value (unknown options). */
  readonly atKey?: boolean;
}

/** Formats a path as `pipelines[0].sources[1].brokers` below `base` (a formatted path, or ''). */
export function joinConfigPath(base: string, segments: readonly PropertyKey[]): string {
  let result = base;
  for (const segment of segments) {
    if (typeof segment === 'number') result += `[${segment}]`;
    else result += result === '' ? String(segment) : `.${String(segment)}`;
  }
  return result;
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (value === REDACTED) return 'a secret value';
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
 * Turns zod issues into messages that say what is wrong, what was received and what is
 * allowed. `raw` is the validated input (values of secret fields are never quoted);
 * `prefix` is where it sits in the file; `extraKeys` are keys the caller accepts besides the
 * schema's (e.g. `name` and `type` of a connector entry).
 */
export function describeConfigIssues(
  error: z.ZodError,
  schema: z.ZodType,
  raw: unknown,
  prefix: ConfigPath = [],
  extraKeys: readonly string[] = [],
): PathIssue[] {
  const issues: PathIssue[] = [];
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
      case 'invalid_type':
        issues.push({
          path: full,
          message:
            value === undefined
              ? `required option missing: expected ${issue.expected}`
              : `expected ${issue.expected}, got ${describeValue(value)}`,
        });
        break;
      case 'invalid_value':
        issues.push({
          path: full,
          message: `got ${describeValue(value)}; allowed: ${issue.values.map(quote).join(', ')}`,
        });
        break;
      case 'too_small':
      case 'too_big':
        issues.push({
          path: full,
          message: `${issue.message.replace(/^Too (small|big): /, '')} (got ${describeValue(value)})`,
        });
        break;
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
