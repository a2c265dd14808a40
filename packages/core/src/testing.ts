/**
 * @tidemark/core/testing — the one in-memory transactional sink, for the runtime's own tests
 * and, re-exported, for plugin tests through `@tidemark/sdk/testing`.
 */
export {
  type CommitFault,
  createMemorySink,
  type MemoryCommittedTransaction,
  type MemorySink,
  type MemorySinkOptions,
  MemorySinkStore,
  MemoryTransactionalSink,
  type SinkFaultPoint,
  type SinkFaults,
} from './testing/memory-sink.js';
