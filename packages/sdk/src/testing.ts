/**
 * @tidemark/sdk/testing — the conformance kit every source runs in its own tests, plus
 * regression helpers and fakes for plugin tests. Needs vitest (an optional peer dependency)
 * only for `describeSourceConformance`.
 */
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
  type CommitFault,
  createMemorySink,
  type MemorySink,
  type MemorySinkOptions,
} from './testing/memory-sink.js';
export {
  type RunPipelineOptions,
  type RunPipelineResult,
  runPipelineToCompletion,
} from './testing/pipeline.js';
