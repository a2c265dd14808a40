import {
  type Connector,
  SINK_SPECIFICATION_VERSION,
  SOURCE_SPECIFICATION_VERSION,
  TidemarkError,
} from '@tidemark/core';

const CURRENT: Readonly<Record<string, string>> = {
  source: SOURCE_SPECIFICATION_VERSION,
  sink: SINK_SPECIFICATION_VERSION,
};

/**
 * Upgrades a plugin written against an older specification version by one step: it receives
 * the plugin object exactly as exported and returns an object of a newer version (usually the
 * next one). Adapters chain until the current version is reached. An adapter wraps, it never
 * mutates its input (plugin exports are frozen).
 */
export type SpecificationAdapter = (plugin: Readonly<Record<string, unknown>>) => Record<string, unknown>;

/**
 * The adaptation table: older specification version → adapter. Empty while `v1` is the only
 * version ever published. When `tidemark.source/v2` ships, `'tidemark.source/v1'` gets an
 * entry here that maps a v1 plugin onto the v2 contract, and the v1 literal stays loadable.
 */
export const SPECIFICATION_ADAPTERS: Readonly<Record<string, SpecificationAdapter>> = Object.freeze({});

/**
 * Checks a loaded plugin export and adapts older specification versions to the current one
 * through `adapters` (default {@link SPECIFICATION_ADAPTERS}).
 *
 * `origin` names where the value came from (a package name or a file) for messages. Throws
 * CONNECTOR_UNKNOWN when the value is not a connector, and SPEC_VERSION_UNSUPPORTED (naming the
 * package to upgrade) for a version with no adapter, e.g. a plugin newer than this core.
 */
export function adaptConnector(
  value: unknown,
  origin: string,
  adapters: Readonly<Record<string, SpecificationAdapter>> = SPECIFICATION_ADAPTERS,
): Connector {
  let candidate = checkShape(value, origin);
  const expected = CURRENT[candidate.kind as string] as string;
  const seen = new Set<string>();
  while (candidate.specificationVersion !== expected) {
    const version = String(candidate.specificationVersion);
    const adapter = adapters[version];
    const name = typeof candidate.packageName === 'string' ? candidate.packageName : origin;
    if (!adapter || seen.has(version)) {
      throw new TidemarkError(
        'SPEC_VERSION_UNSUPPORTED',
        `${name} implements ${version}, but this Tidemark speaks ${expected}`,
        {
          fix: `Upgrade ${name} (or @tidemark/cli) so both speak ${expected}.`,
          details: { packageName: name, specificationVersion: version, supported: expected },
        },
      );
    }
    seen.add(version);
    const adapted = checkShape(adapter(candidate), `${origin} (adapted from ${version})`);
    if (adapted.kind !== candidate.kind) {
      throw new TidemarkError(
        'INTERNAL',
        `the ${version} adapter turned a ${String(candidate.kind)} into a ${String(adapted.kind)}`,
      );
    }
    candidate = adapted;
  }
  if (typeof candidate.create !== 'function') {
    throw new TidemarkError('CONNECTOR_UNKNOWN', `${origin}: the connector has no create() function`, {
      fix: 'Build the connector with defineSource()/defineSink() from @tidemark/sdk.',
    });
  }
  return candidate as unknown as Connector;
}

function checkShape(value: unknown, origin: string): Readonly<Record<string, unknown>> {
  if (
    typeof value !== 'object' ||
    value === null ||
    !('kind' in value) ||
    !('specificationVersion' in value)
  ) {
    throw new TidemarkError('CONNECTOR_UNKNOWN', `${origin} does not export a Tidemark connector`, {
      fix: 'Export the result of defineSource()/defineSink() from @tidemark/sdk as the default export.',
    });
  }
  const candidate = value as Readonly<Record<string, unknown>>;
  if (typeof candidate.kind !== 'string' || !(candidate.kind in CURRENT)) {
    throw new TidemarkError(
      'CONNECTOR_UNKNOWN',
      `${origin}: unknown connector kind ${String(candidate.kind)}`,
      {
        fix: "A connector's kind is 'source' or 'sink'; build it with defineSource()/defineSink().",
      },
    );
  }
  return candidate;
}
