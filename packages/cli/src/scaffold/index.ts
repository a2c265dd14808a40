import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { TidemarkError } from '@tidemark/core';
import {
  gitignoreTemplate,
  packageJsonTemplate,
  readmeTemplate,
  type SourceTemplateNames,
  sourceTemplate,
  sourceTestTemplate,
  tsconfigTemplate,
  tsupConfigTemplate,
} from './templates.js';

export interface ScaffoldSourceOptions {
  /**
   * npm package name of the plugin (`tidemark-source-ticks`, `@acme/tidemark-source-ticks`) or
   * a bare name (`ticks`, which becomes `tidemark-source-ticks`). The connector type is the
   * name without scope and without a `tidemark-source-` / `source-` prefix.
   */
  readonly name: string;
  /** Where to write the package; created if missing, must be empty if present. */
  readonly directory: string;
  /** Version range of @tidemark/sdk the package depends on, e.g. `^0.1.0`. */
  readonly sdkVersion: string;
}

export interface ScaffoldResult {
  /** Absolute path of the package directory. */
  readonly directory: string;
  readonly packageName: string;
  readonly type: string;
  /** Paths written, relative to `directory`. */
  readonly files: readonly string[];
}

const PACKAGE_NAME = /^(@[a-z0-9][a-z0-9._-]*\/)?[a-z0-9][a-z0-9._-]*$/;
const TYPE = /^[a-z][a-z0-9-]*$/;

/** Derives the package name, connector type and identifier stem from `name`. */
export function sourceNames(name: string, sdkVersion: string): SourceTemplateNames {
  const trimmed = name.trim();
  const packageName =
    trimmed.includes('/') || trimmed.startsWith('tidemark-source-') ? trimmed : `tidemark-source-${trimmed}`;
  if (!PACKAGE_NAME.test(packageName) || packageName.length > 214) {
    throw new TidemarkError('CONFIG_INVALID', `'${name}' is not a valid npm package name`, {
      fix: 'Use lowercase letters, digits, dots, dashes and underscores, optionally with an @scope/.',
    });
  }
  const base = packageName.replace(/^@[^/]+\//, '').replace(/^(tidemark-)?source-/, '');
  const type = base.replace(/[._]/g, '-');
  if (!TYPE.test(type)) {
    throw new TidemarkError(
      'CONFIG_INVALID',
      `'${name}' yields the connector type '${type}', which must match ${TYPE}`,
      {
        fix: 'Start the name (after any tidemark-source- prefix) with a letter.',
      },
    );
  }
  const identifier = type.replace(/-([a-z0-9])/g, (_, letter: string) => letter.toUpperCase());
  return { packageName, type, identifier, sdkVersion };
}

/**
 * Writes a new source plugin package into `directory`: package.json (depending on
 * @tidemark/sdk), tsconfig, tsup config, a working example source in src/index.ts, its
 * conformance test in src/index.test.ts, a README and a .gitignore.
 *
 * Throws CONFIG_INVALID for a bad name or a non-empty directory; never overwrites files.
 */
export async function scaffoldSource(options: ScaffoldSourceOptions): Promise<ScaffoldResult> {
  const names = sourceNames(options.name, options.sdkVersion);
  const directory = resolve(options.directory);
  await mkdir(directory, { recursive: true });
  const existing = await readdir(directory);
  if (existing.length > 0) {
    throw new TidemarkError(
      'CONFIG_INVALID',
      `${directory} is not empty (${existing.slice(0, 3).join(', ')}…)`,
      {
        fix: 'Choose a new or empty directory for the plugin package.',
      },
    );
  }
  const files: Record<string, string> = {
    'package.json': packageJsonTemplate(names),
    'tsconfig.json': tsconfigTemplate(),
    'tsup.config.ts': tsupConfigTemplate(),
    '.gitignore': gitignoreTemplate(),
    'README.md': readmeTemplate(names),
    'src/index.ts': sourceTemplate(names),
    'src/index.test.ts': sourceTestTemplate(names),
  };
  await mkdir(join(directory, 'src'), { recursive: true });
  for (const [path, text] of Object.entries(files)) {
    await writeFile(join(directory, path), text, { flag: 'wx' });
  }
  return { directory, packageName: names.packageName, type: names.type, files: Object.keys(files) };
}
