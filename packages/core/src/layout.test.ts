import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The contract modules: what `@tidemark/sdk` re-exports as the spec. They must not import the
 * runtime modules, so the spec stays free of the runtime (see docs/architecture.md, Package
 * layout).
 */
const CONTRACT_MODULES = [
  'connector',
  'deadline',
  'errors',
  'json',
  'logger',
  'record',
  'sink',
  'source',
  'watermark',
  'watermark-document',
];

const directory = fileURLToPath(new URL('.', import.meta.url));

describe('package layout', () => {
  it('contract modules import only contract modules, node built-ins and zod', () => {
    const offending: string[] = [];
    for (const module of CONTRACT_MODULES) {
      const text = readFileSync(`${directory}${module}.ts`, 'utf8');
      for (const [, specifier] of text.matchAll(/from '([^']+)'/g)) {
        const local = specifier!.match(/^\.\/(.+)\.js$/);
        const allowed = local
          ? CONTRACT_MODULES.includes(local[1]!)
          : specifier!.startsWith('node:') || specifier === 'zod';
        if (!allowed) {
          offending.push(`${module}.ts imports ${specifier}`);
        }
      }
    }
    expect(offending).toEqual([]);
  });

  it('every module of core is either a contract module or a runtime module named here', () => {
    const runtime = [
      'commit-policy',
      'duration',
      'pipeline',
      'poison',
      'rowtime',
      'transforms',
      'index',
      'testing',
    ];
    const modules = readdirSync(directory)
      .filter((name) => name.endsWith('.ts') && !name.endsWith('.test.ts'))
      .map((name) => name.slice(0, -3));
    expect(modules.filter((name) => !CONTRACT_MODULES.includes(name) && !runtime.includes(name))).toEqual([]);
  });
});
