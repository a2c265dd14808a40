/**
 * @tidemark/sdk/testing — the conformance kits every source and every sink runs in its own tests, plus
 * regression helpers and fakes for plugin tests. Needs vitest (an optional peer dependency)
 * only for `describeSourceConformance` and `describeSinkConformance`.
 */

// The memory sink (createMemorySink, MemorySinkStore, …) lives with the runtime: one
// implementation for the runtime's own tests and for plugin tests.
export * from '@tidemark/core/testing';
export { assertContiguous, assertExactlyOnce, assertNoDuplicates } from './testing/assertions.js';
export {
  type ConformanceCase,
  crashStepName,
  runConformanceCase,
  sourceConformanceCases,
} from './testing/cases.js';
export { describeSourceConformance } from './testing/conformance.js';
export {
  ConformanceKit,
  type ConformanceSettings,
  type ReadResult,
  type SourceConformanceOptions,
  type SourceInstance,
} from './testing/harness.js';
export {
  type RunPipelineOptions,
  type RunPipelineResult,
  runPipelineToCompletion,
} from './testing/pipeline.js';
export {
  runSinkConformanceCase,
  SinkCaseContext,
  type SinkCommitFault,
  type SinkConformanceCase,
  type SinkConformanceOptions,
  type SinkConformanceTarget,
  sinkConformanceCases,
} from './testing/sink-cases.js';
export { describeSinkConformance } from './testing/sink-conformance.js';
