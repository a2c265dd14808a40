import { describe, it } from 'vitest';
import { runSinkConformanceCase, type SinkConformanceOptions, sinkConformanceCases } from './sink-cases.js';

/**
 * Registers the sink conformance suite as vitest cases in the calling test file (an
 * `*.int.test.ts` for a sink that needs a server). Every case gets a fresh target from
 * `setup`, plays the runtime (and crashed or zombie processes) against new sink instances,
 * and checks what a committed-only reader sees: the state machine, data and watermark
 * committed atomically, fencing at open, the watermark read only after fencing, and recovery
 * (never abort) after an uncertain commit. Cases that need what the options do not give
 * (commit faults, a poison record) are registered as skipped, so the report shows them.
 */
export function describeSinkConformance(options: SinkConformanceOptions): void {
  describe(options.title ?? 'sink conformance', () => {
    for (const conformanceCase of sinkConformanceCases()) {
      it.skipIf(!conformanceCase.applies(options))(
        conformanceCase.name,
        () => runSinkConformanceCase(options, conformanceCase),
        options.caseTimeoutMs ?? 60_000,
      );
    }
  });
}
