import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Connector } from '@tidemark/sdk';
import { toTidemarkError } from '@tidemark/sdk';
import { type ConnectorKind, loadConnector, packageForType } from './resolve.js';

/** A connector found installed, or a package that looks like one but failed to load. */
export interface InstalledConnector {
  readonly kind: ConnectorKind;
  readonly packageName: string;
  readonly directory: string;
  readonly connector?: Connector;
  readonly error?: string;
}

const CLI_DIRECTORY = dirname(fileURLToPath(import.meta.url));

function tidemarkPackagesUnder(start: string): Map<string, string> {
  const found = new Map<string, string>();
  let directory = resolve(start);
  while (true) {
    const scope = join(directory, 'node_modules', '@tidemark');
    if (existsSync(scope)) {
      for (const entry of readdirSync(scope)) {
        const name = `@tidemark/${entry}`;
        if (/^(source|sink)-/.test(entry) && !found.has(name)) found.set(name, join(scope, entry));
      }
    }
    const parent = dirname(directory);
    if (parent === directory) return found;
    directory = parent;
  }
}

/**
 * Lists the connectors a configuration in `baseDirectory` could use: every `@tidemark/source-*` and `@tidemark/sink-*` package in the `node_modules` folders above
 * `baseDirectory` and above the CLI's own install. Never throws: load failures are reported.
 */
export async function discoverConnectors(baseDirectory: string): Promise<InstalledConnector[]> {
  const candidates = new Map<string, { kind: ConnectorKind; directory: string }>();
  for (const start of [baseDirectory, CLI_DIRECTORY]) {
    for (const [name, directory] of tidemarkPackagesUnder(start)) {
      const kind: ConnectorKind = name.startsWith('@tidemark/source-') ? 'source' : 'sink';
      if (!candidates.has(name)) candidates.set(name, { kind, directory });
    }
  }
  const results: InstalledConnector[] = [];
  for (const [packageName, { kind, directory }] of [...candidates].sort(([a], [b]) => a.localeCompare(b))) {
    const type = packageName.replace(/^@tidemark\/(source|sink)-/, '');
    try {
      const { connector } = await loadConnector(
        kind,
        packageName === packageForType(kind, type) ? type : packageName,
        baseDirectory,
      );
      results.push({ kind, packageName, directory, connector });
    } catch (error) {
      results.push({ kind, packageName, directory, error: toTidemarkError(error).message });
    }
  }
  return results;
}
