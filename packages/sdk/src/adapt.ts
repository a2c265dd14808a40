import {
  type Connector,
  SINK_SPECIFICATION_VERSION,
  SOURCE_SPECIFICATION_VERSION,
  TidemarkError,
} from '@tidemark/core';

const SUPPORTED: Record<string, string> = {
  source: SOURCE_SPECIFICATION_VERSION,
  sink: SINK_SPECIFICATION_VERSION,
};

/**
 * Checks a loaded plugin export and adapts older specification versions to the current one.
 * Rejects unknown versions with a message naming the package to upgrade.
 */
export function adaptConnector(value: unknown, origin: string): Connector {
  if (typeof value !== 'object' || value === null || !('kind' in value) || !('specificationVersion' in value)) {
    throw new TidemarkError('CONNECTOR_UNKNOWN', `${origin} does not export a Tidemark connector`, {
      fix: 'Export the result of defineSource()/defineSink() from @tidemark/sdk as the default export.',
    });
  }
  const candidate = value as { kind: unknown; specificationVersion: unknown; packageName?: unknown };
  const expected = typeof candidate.kind === 'string' ? SUPPORTED[candidate.kind] : undefined;
  if (!expected) {
    throw new TidemarkError('CONNECTOR_UNKNOWN', `${origin}: unknown connector kind ${String(candidate.kind)}`);
  }
  if (candidate.specificationVersion !== expected) {
    const name = typeof candidate.packageName === 'string' ? candidate.packageName : origin;
    throw new TidemarkError(
      'SPEC_VERSION_UNSUPPORTED',
      `${name} implements ${String(candidate.specificationVersion)}, but this Tidemark speaks ${expected}`,
      {
        fix: `Upgrade ${name} (or @tidemark/cli) so both speak ${expected}.`,
      },
    );
  }
  return value as Connector;
}
