import { type Document, isScalar, visit } from 'yaml';

const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** An environment variable a configuration references but the environment does not set. */
export interface MissingVariable {
  readonly name: string;
  /** Path of the scalar that references it. */
  readonly path: readonly (string | number)[];
}

/**
 * Replaces `${NAME}` and `${NAME:-default}` in every string scalar of `document`, in place.
 * `$${` escapes a literal `${`. A plain (unquoted) scalar that was only a reference is re-typed
 * after substitution, so `port: ${PORT}` yields a number. Returns the variables that are unset
 * and have no default (each is left as the empty string).
 */
export function interpolateEnvironment(
  document: Document,
  environment: NodeJS.ProcessEnv = process.env,
): MissingVariable[] {
  const missing: MissingVariable[] = [];
  visit(document, {
    Scalar(key, node, ancestors) {
      if (key === 'key' || typeof node.value !== 'string' || !node.value.includes('${')) return;
      const path = pathOf(ancestors, node);
      const original = node.value;
      const substituted = original.replace(
        /\$?\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g,
        (match, name, fallback) => {
          if (match.startsWith('$$')) return match.slice(1);
          const value = environment[name as string];
          if (value !== undefined && value !== '') return value;
          if (fallback !== undefined) return fallback as string;
          missing.push({ name: name as string, path });
          return '';
        },
      );
      const wholeReference = new RegExp(`^${REFERENCE.source}$`).test(original);
      node.value = wholeReference && node.type === 'PLAIN' ? retype(substituted) : substituted;
    },
  });
  return missing;
}

function retype(text: string): string | number | boolean | null {
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  if (text === 'true' || text === 'false') return text === 'true';
  if (text === 'null' || text === '~') return null;
  return text;
}

function pathOf(ancestors: readonly unknown[], node: unknown): (string | number)[] {
  const path: (string | number)[] = [];
  const chain = [...ancestors, node];
  for (let index = 0; index < chain.length - 1; index += 1) {
    const parent = chain[index] as { items?: unknown[] } | undefined;
    const child = chain[index + 1];
    if (!parent || !Array.isArray(parent.items)) continue;
    const position = parent.items.indexOf(child);
    if (position >= 0) {
      const item = parent.items[position] as { key?: unknown };
      if (item && typeof item === 'object' && 'key' in item) {
        path.push(isScalar(item.key) ? String(item.key.value) : String(item.key));
      } else {
        path.push(position);
      }
    }
  }
  return path;
}
