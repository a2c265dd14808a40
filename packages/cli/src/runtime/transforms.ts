import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { labelTransform, TidemarkError, type Transform } from '@tidemark/core';
import { resolveLocalModule, resolvePackage } from '../connectors/resolve.js';

/** A transform step as configured: module specifier and export name. */
export interface TransformReference {
  readonly module: string;
  readonly export: string;
}

/**
 * Imports the function a transform step names. Paths are relative to `baseDirectory` (the
 * configuration's folder); other specifiers are packages. TypeScript modules load through
 * Node's type stripping. Throws CONFIG_INVALID when the module is missing, fails to load, or
 * the export is not a function.
 */
export async function loadTransform(
  reference: TransformReference,
  baseDirectory: string,
): Promise<Transform> {
  const local = reference.module.startsWith('.') || isAbsolute(reference.module);
  const entry = local
    ? resolveLocalModule(reference.module, baseDirectory)
    : resolvePackage(reference.module, baseDirectory);
  if (!entry) {
    throw new TidemarkError('CONFIG_INVALID', `transform module '${reference.module}' not found`, {
      fix: local
        ? 'The path is relative to the configuration file; check the file exists.'
        : `Install the package (npm install ${reference.module}) or use a ./path.`,
    });
  }
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(entry).href)) as Record<string, unknown>;
  } catch (cause) {
    const typeScript =
      (cause as { code?: string }).code === 'ERR_UNKNOWN_FILE_EXTENSION' && /\.[cm]?ts$/.test(entry);
    throw new TidemarkError(
      'CONFIG_INVALID',
      `transform module '${reference.module}' failed to load: ${(cause as Error).message}`,
      {
        cause,
        fix: typeScript
          ? `TypeScript modules load through Node's type stripping (Node 22.18 or newer; this is ${process.version}): upgrade Node or compile the transform to .js.`
          : 'Fix the syntax or imports of the transform module.',
      },
    );
  }
  const exported = module[reference.export];
  if (typeof exported !== 'function') {
    const functions = Object.keys(module).filter((key) => typeof module[key] === 'function');
    throw new TidemarkError(
      'CONFIG_INVALID',
      `transform module '${reference.module}': export '${reference.export}' is ${exported === undefined ? 'missing' : `a ${typeof exported}, not a function`}${functions.length > 0 ? `; function exports: ${functions.join(', ')}` : ''}`,
      {
        fix: 'Export a function (record) => record | record[] | null, e.g. `export default (record) => record`.',
      },
    );
  }
  return labelTransform(exported as Transform, `${reference.module}#${reference.export}`);
}
