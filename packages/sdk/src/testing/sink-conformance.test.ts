import type { SinkRecord } from '@tidemark/core';
import { type MemorySinkOptions, MemorySinkStore, MemoryTransactionalSink } from '@tidemark/core/testing';
import { describe, expect, it } from 'vitest';
import { BROKEN_SINKS, type BrokenSinkFlaw } from './broken-sinks.fixture.js';
import { runSinkConformanceCase, type SinkConformanceOptions, sinkConformanceCases } from './sink-cases.js';
import { describeSinkConformance } from './sink-conformance.js';

/** A value the memory sink under test refuses: not JSON. */
const rejectRecord = (record: SinkRecord): string | undefined => {
  try {
    JSON.parse(Buffer.from(record.value ?? new Uint8Array()).toString('utf8'));
    return undefined;
  } catch {
    return 'has a value that is not JSON';
  }
};

const POISON: SinkRecord = {
  key: null,
  value: Buffer.from('not json'),
  headers: {},
  rowtime: 0,
  provenance: {},
  position: { unit: 'u', next: 0 },
};

function memoryOptions(
  make: new (options: MemorySinkOptions) => MemoryTransactionalSink = MemoryTransactionalSink,
): SinkConformanceOptions {
  return {
    commitFaults: true,
    poisonRecord: POISON,
    setup() {
      const store = new MemorySinkStore();
      return {
        createSink: ({ commitFault } = {}) =>
          new make({
            store,
            rejectRecord,
            ...(commitFault ? { commitFault: (n: number) => (n === 1 ? commitFault : undefined) } : {}),
          }),
        readCommittedValues: async () =>
          store.records.map((record) => Buffer.from(record.value ?? new Uint8Array()).toString('utf8')),
      };
    },
  };
}

describeSinkConformance({ ...memoryOptions(), title: 'sink conformance: memory sink' });

/** The cases that must catch each flaw (at least one each). */
const CAUGHT_BY: Record<BrokenSinkFlaw, string> = {
  'commits data without the watermark': 'commit stores records and watermark together',
  'aborts after an uncertain commit': 'after an uncertain commit (landed)',
  'no fencing at open': 'open fences older instances',
  'reads the watermark before fencing': 'open reads the watermark after fencing',
  'writes outside the transaction': 'abort discards the transaction',
  'accepts write without a transaction': 'calls out of order',
};

describe('the sink conformance suite catches broken sinks', () => {
  for (const [flaw, make] of Object.entries(BROKEN_SINKS) as [
    BrokenSinkFlaw,
    typeof MemoryTransactionalSink,
  ][]) {
    it(`catches a sink that ${flaw}`, async () => {
      const options = memoryOptions(make);
      const catching = sinkConformanceCases().find((item) => item.name.startsWith(CAUGHT_BY[flaw]));
      expect(catching).toBeDefined();
      await expect(runSinkConformanceCase(options, catching!)).rejects.toThrow(/sink conformance:/);
    });
  }

  it('lets each broken sink fail somewhere while the correct one passes everything', async () => {
    for (const make of Object.values(BROKEN_SINKS)) {
      let failures = 0;
      for (const conformanceCase of sinkConformanceCases()) {
        await runSinkConformanceCase(memoryOptions(make), conformanceCase).catch(() => {
          failures += 1;
        });
      }
      expect(failures).toBeGreaterThan(0);
    }
  });
});
