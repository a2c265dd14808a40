import { describe, it } from 'vitest';
import { runConformanceCase, sourceConformanceCases } from './cases.js';
import { resolveSettings, type SourceConformanceOptions } from './harness.js';

/**
 * Registers the source conformance suite as vitest cases in the calling test file. Call it at
 * the top level of a `*.test.ts` (or `*.int.test.ts` for sources that need a server).
 *
 * Every case runs `setup`, produces its own records, plays the runtime against fresh instances
 * of the connector, and runs `cleanup`. Cases that do not fit the declared capabilities are
 * registered as skipped (seek cases for `replay: 'redeliver'` sources are replaced by
 * redelivery cases; the bounded case needs `bounded: true`), so the report shows them.
 */
export function describeSourceConformance(options: SourceConformanceOptions): void {
  const settings = resolveSettings(options);
  const capabilities = options.connector.capabilities;
  describe(options.title ?? `source conformance: ${options.connector.type}`, () => {
    for (const conformanceCase of sourceConformanceCases(options)) {
      it.skipIf(!conformanceCase.applies(capabilities))(
        conformanceCase.name,
        () => runConformanceCase(options, conformanceCase),
        settings.caseTimeoutMs,
      );
    }
  });
}
