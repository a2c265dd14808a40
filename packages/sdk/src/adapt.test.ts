import { SOURCE_SPECIFICATION_VERSION, TidemarkError } from '@tidemark/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { adaptConnector, type SpecificationAdapter } from './adapt.js';
import { defineSource } from './define.js';

const current = defineSource({
  type: 'numbers',
  packageName: '@example/source-numbers',
  version: '1.0.0',
  description: 'numbers',
  configSchema: z.object({}),
  capabilities: { replay: 'seek', exactlyOnce: true, bounded: true },
  provenance: [],
  create: () => {
    throw new Error('not used');
  },
});

function thrown(run: () => unknown): TidemarkError {
  try {
    run();
  } catch (error) {
    if (TidemarkError.isInstance(error)) return error;
    throw error;
  }
  throw new Error('did not throw');
}

describe('adaptConnector', () => {
  it('returns a current-version connector unchanged', () => {
    expect(adaptConnector(current, 'test')).toBe(current);
  });

  it('rejects an unknown version, naming the package to upgrade', () => {
    const error = thrown(() =>
      adaptConnector({ ...current, specificationVersion: 'tidemark.source/v9' }, 'plugin.js'),
    );
    expect(error.code).toBe('SPEC_VERSION_UNSUPPORTED');
    expect(error.message).toContain('@example/source-numbers implements tidemark.source/v9');
    expect(error.fix).toContain('Upgrade @example/source-numbers');
  });

  it('rejects values that are not connectors', () => {
    expect(thrown(() => adaptConnector({ hello: 1 }, 'plugin.js')).code).toBe('CONNECTOR_UNKNOWN');
    expect(
      thrown(() => adaptConnector({ kind: 'transform', specificationVersion: 'x' }, 'plugin.js')).code,
    ).toBe('CONNECTOR_UNKNOWN');
  });

  it('adapts an older version through the adapter table', () => {
    // A synthetic v0 plugin: capabilities were flat fields and `make` built the source.
    const v0 = {
      kind: 'source',
      specificationVersion: 'tidemark.source/v0',
      type: 'numbers',
      packageName: '@example/source-numbers-legacy',
      version: '0.1.0',
      description: 'numbers',
      configSchema: z.object({}),
      seekable: true,
      provenance: [],
      make: () => 'a source',
    };
    const adapters: Record<string, SpecificationAdapter> = {
      'tidemark.source/v0': (plugin) => ({
        ...plugin,
        specificationVersion: SOURCE_SPECIFICATION_VERSION,
        capabilities: { replay: plugin.seekable ? 'seek' : 'redeliver', exactlyOnce: true, bounded: false },
        create: plugin.make,
      }),
    };
    const adapted = adaptConnector(v0, 'legacy.js', adapters);
    expect(adapted.specificationVersion).toBe(SOURCE_SPECIFICATION_VERSION);
    expect(adapted.kind === 'source' && adapted.capabilities.replay).toBe('seek');
    expect(adapted.packageName).toBe('@example/source-numbers-legacy');
    // Without the table entry, the same plugin is rejected.
    expect(thrown(() => adaptConnector(v0, 'legacy.js')).code).toBe('SPEC_VERSION_UNSUPPORTED');
  });

  it('rejects an adapter cycle instead of looping', () => {
    const adapters: Record<string, SpecificationAdapter> = {
      'tidemark.source/v0': (plugin) => ({ ...plugin, specificationVersion: 'tidemark.source/v0' }),
    };
    const error = thrown(() =>
      adaptConnector({ ...current, specificationVersion: 'tidemark.source/v0' }, 'x', adapters),
    );
    expect(error.code).toBe('SPEC_VERSION_UNSUPPORTED');
  });
});
