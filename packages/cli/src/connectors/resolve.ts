import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { adaptConnector, type SinkConnector, type SourceConnector, TidemarkError } from '@tidemark/sdk';

export type ConnectorKind = 'source' | 'sink';

/** The short types Tidemark ships, and the package each lives in. */
export const KNOWN_TYPES: Readonly<Record<ConnectorKind, readonly string[]>> = {
  source: ['file', 'kafka', 'amqp', 'mqtt', 'kinesis', 'rdbms'],
  sink: ['kafka', 'postgres'],
};

const SHORT_TYPE = /^[a-z][a-z0-9-]*$/;

/** Where the CLI itself is installed: the second place connectors are looked up. */
const CLI_DIRECTORY = dirname(fileURLToPath(import.meta.url));

/** The npm package a short type maps to, e.g. `@tidemark/source-file`. */
export function packageForType(kind: ConnectorKind, type: string): string {
  return `@tidemark/${kind}-${type}`;
}

export interface ResolvedConnector<Kind extends ConnectorKind> {
  readonly connector: Kind extends 'source' ? SourceConnector : SinkConnector;
  /** The module file it was loaded from. */
  readonly entry: string;
}

/**
 * Finds the directory of an installed package by walking up `node_modules` folders from
 * `fromDirectory` (Node's own lookup, done by hand so that packages exporting only an `import`
 * condition resolve too).
 */
export function findPackageDirectory(name: string, fromDirectory: string): string | undefined {
  let directory = resolve(fromDirectory);
  while (true) {
    const candidate = join(directory, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    const parent = dirname(directory);
    if (parent === directory) return undefined;
    directory = parent;
  }
}

/** The ESM entry file of the package in `packageDirectory`. */
export function packageEntry(packageDirectory: string): string {
  const manifest = JSON.parse(readFileSync(join(packageDirectory, 'package.json'), 'utf8')) as {
    exports?: unknown;
    module?: string;
    main?: string;
  };
  const fromExports = exportTarget(manifest.exports);
  const relative = fromExports ?? manifest.module ?? manifest.main ?? 'index.js';
  return join(packageDirectory, relative);
}

function exportTarget(exports: unknown): string | undefined {
  if (typeof exports === 'string') return exports;
  if (typeof exports !== 'object' || exports === null) return undefined;
  const map = exports as Record<string, unknown>;
  const root = '.' in map ? map['.'] : map;
  if (typeof root === 'string') return root;
  if (typeof root !== 'object' || root === null) return undefined;
  for (const condition of ['import', 'node', 'default']) {
    const target = exportTarget((root as Record<string, unknown>)[condition]);
    if (target) return target;
  }
  return undefined;
}

const LOCAL_EXTENSIONS = ['', '.js', '.mjs', '.ts', '.mts', '/index.js', '/index.mjs', '/index.ts'];

/** Resolves a relative or absolute path to a module file or a package folder. */
export function resolveLocalModule(specifier: string, baseDirectory: string): string | undefined {
  const base = isAbsolute(specifier) ? specifier : resolve(baseDirectory, specifier);
  if (existsSync(base) && statSync(base).isDirectory() && existsSync(join(base, 'package.json'))) {
    return packageEntry(base);
  }
  for (const extension of LOCAL_EXTENSIONS) {
    const candidate = base + extension;
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  return undefined;
}

/** Resolves a package name from the configuration's directory, then from the CLI's own install. */
export function resolvePackage(name: string, baseDirectory: string): string | undefined {
  for (const from of [baseDirectory, CLI_DIRECTORY]) {
    const directory = findPackageDirectory(name, from);
    if (directory) return packageEntry(directory);
  }
  return undefined;
}

function isLocal(type: string): boolean {
  return type.startsWith('.') || isAbsolute(type);
}

/** The module specifiers tried for a `type`, in order. */
export function candidatesFor(kind: ConnectorKind, type: string): string[] {
  if (isLocal(type)) return [type];
  if (SHORT_TYPE.test(type)) return [packageForType(kind, type), `tidemark-${kind}-${type}`, type];
  return [type];
}

/**
 * Loads the connector of `kind` that a configuration names with `type`.
 *
 * Lookup: a path (`./plugins/x`) relative to `baseDirectory`; a short type (`file`) as
 * `@tidemark/<kind>-<type>`, then `tidemark-<kind>-<type>`, then as a package name; anything else
 * as a package name. Packages resolve from `baseDirectory` upwards, then from the CLI's install.
 * The module's default export is used, else the first named export that is a connector of `kind`.
 *
 * Errors: CONNECTOR_UNKNOWN (not installed / not a connector / wrong kind, naming the package
 * to install), SPEC_VERSION_UNSUPPORTED (built for another plugin contract).
 */
export async function loadConnector<Kind extends ConnectorKind>(
  kind: Kind,
  type: string,
  baseDirectory: string,
): Promise<ResolvedConnector<Kind>> {
  let entry: string | undefined;
  for (const candidate of candidatesFor(kind, type)) {
    entry = isLocal(candidate)
      ? resolveLocalModule(candidate, baseDirectory)
      : resolvePackage(candidate, baseDirectory);
    if (entry) break;
  }
  if (!entry) throw unknownConnector(kind, type);
  if (!existsSync(entry)) {
    throw new TidemarkError(
      'CONNECTOR_UNKNOWN',
      `${kind} type '${type}': the package is installed but its entry ${entry} is missing`,
      {
        fix: 'Reinstall the package (or build it, in a workspace checkout).',
      },
    );
  }
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(entry).href)) as Record<string, unknown>;
  } catch (cause) {
    throw new TidemarkError(
      'CONNECTOR_UNKNOWN',
      `${kind} type '${type}': loading ${entry} failed: ${(cause as Error).message}`,
      {
        cause,
        fix: 'Reinstall the connector package, or fix the plugin module so that it loads.',
      },
    );
  }
  const exported = pickExport(module, kind);
  if (!exported && module.status === 'planned') {
    throw new TidemarkError(
      'CONNECTOR_UNKNOWN',
      `${kind} type '${type}' is planned but not implemented yet`,
      {
        fix: 'See docs/connectors.md ("Planned connectors"); until it lands, use a custom source plugin (docs/plugin-guide.md).',
      },
    );
  }
  if (!exported) {
    throw new TidemarkError(
      'CONNECTOR_UNKNOWN',
      `${kind} type '${type}': ${entry} exports no ${kind} connector`,
      {
        fix: `Export the result of define${kind === 'source' ? 'Source' : 'Sink'}() from @tidemark/sdk as the default export.`,
      },
    );
  }
  const connector = adaptConnector(exported, `${kind} type '${type}' (${entry})`);
  if (connector.kind !== kind) {
    throw new TidemarkError(
      'CONNECTOR_UNKNOWN',
      `'${type}' is a ${connector.kind} connector, used here as a ${kind}`,
      {
        fix: `Use a ${kind} connector here.`,
      },
    );
  }
  return { connector: connector as ResolvedConnector<Kind>['connector'], entry };
}

function pickExport(module: Record<string, unknown>, kind: ConnectorKind): unknown {
  const isConnector = (value: unknown) =>
    typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === kind;
  if (isConnector(module.default)) return module.default;
  const named = Object.values(module).find(isConnector);
  if (named) return named;
  const anyConnector = Object.values(module).find(
    (value) => typeof value === 'object' && value !== null && 'specificationVersion' in value,
  );
  return anyConnector ?? (typeof module.default === 'object' ? module.default : undefined);
}

function unknownConnector(kind: ConnectorKind, type: string): TidemarkError {
  if (isLocal(type)) {
    return new TidemarkError('CONNECTOR_UNKNOWN', `${kind} plugin '${type}' not found`, {
      fix: 'Check the path: it is relative to the configuration file and names a module file or a package folder.',
    });
  }
  const packageName = SHORT_TYPE.test(type) ? packageForType(kind, type) : type;
  const known = KNOWN_TYPES[kind].join(', ');
  return new TidemarkError(
    'CONNECTOR_UNKNOWN',
    `unknown ${kind} type '${type}': package ${packageName} is not installed (Tidemark ${kind} types: ${known})`,
    {
      fix: `Install it with \`npm install ${packageName}\`, or set type to a plugin package name or a ./path.`,
    },
  );
}
