import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TidemarkError } from './errors.js';
import { silentLogger } from './logger.js';
import { ERROR_HEADER, PoisonStage, SOURCE_HEADER } from './poison.js';
import type { SinkRecord, TidemarkRecord } from './record.js';
import { composeTransforms, labelTransform, type Transform } from './transforms.js';

const input: TidemarkRecord = {
  key: null,
  value: Buffer.from('{"id":1}'),
  headers: {},
  rowtime: 1_700_000_000_000,
  provenance: { 'file.path': '/data/a.log', 'file.line': 7 },
  position: { unit: 'lane/0', next: 42 },
};

/** Outputs a transform may produce: valid records, arrays, null, and anything at all. */
const output = fc.oneof(
  fc.constant<unknown>(input),
  fc.constant<unknown>(null),
  fc
    .record({ value: fc.uint8Array({ maxLength: 8 }) })
    .map((changed): unknown => ({ ...input, value: changed.value })),
  fc.array(fc.oneof(fc.constant<unknown>(input), fc.anything()), { maxLength: 4 }),
  fc.anything(),
  fc.anything().map((value): unknown => ({ ...input, value })),
  fc.anything().map((rowtime): unknown => ({ ...input, rowtime })),
  fc.anything().map((position): unknown => ({ ...input, position })),
  fc
    .dictionary(fc.string(), fc.oneof(fc.string(), fc.anything()))
    .map((headers): unknown => ({ ...input, headers })),
);

function isRecord(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const record = value as Record<string, unknown>;
  const bytes = (field: unknown) => field === null || field instanceof Uint8Array;
  const position = record.position as { unit?: unknown } | null;
  return (
    bytes(record.value) &&
    bytes(record.key) &&
    typeof record.headers === 'object' &&
    record.headers !== null &&
    Object.values(record.headers).every((header) => typeof header === 'string') &&
    typeof record.rowtime === 'number' &&
    Number.isFinite(record.rowtime) &&
    typeof record.provenance === 'object' &&
    record.provenance !== null &&
    typeof position === 'object' &&
    position !== null &&
    typeof position.unit === 'string'
  );
}

function wellFormed(value: unknown): boolean {
  return value === null || (Array.isArray(value) ? value.every(isRecord) : isRecord(value));
}

function stage(policy: 'fail' | 'skip' | 'dead-letter', steps: Transform[]): PoisonStage {
  return new PoisonStage({
    pipelineId: 'property',
    policy,
    transform: composeTransforms(steps),
    logger: silentLogger,
    onPoison: undefined,
  });
}

describe('transform output at the transform boundary (property)', () => {
  it('a well-formed output passes; anything else is poison naming the transform, under every policy', async () => {
    await fc.assert(
      fc.asyncProperty(
        output,
        fc.constantFrom('fail', 'skip', 'dead-letter' as const),
        async (returned, policy) => {
          const step = labelTransform(() => returned as TidemarkRecord, './t.mjs#shape');
          const outcome = await stage(policy, [step, (record) => record])
            .process(input, 'files')
            .then(
              (records) => ({ records }),
              (error: unknown) => ({ error }),
            );
          if (wellFormed(returned)) {
            expect('records' in outcome).toBe(true);
            const records = (outcome as { records: SinkRecord[] }).records;
            expect(records.every((record) => record.route === undefined)).toBe(true);
            return;
          }
          if (policy === 'fail') {
            const error = (outcome as { error: TidemarkError }).error;
            expect(error.code).toBe('POISON_RECORD');
            expect(error.message).toContain('transform ./t.mjs#shape returned');
            expect(error.fix).toBeTruthy();
          } else if (policy === 'skip') {
            expect(outcome).toEqual({ records: [] });
          } else {
            const records = (outcome as { records: SinkRecord[] }).records;
            expect(records).toHaveLength(1);
            expect(records[0]!.route).toBe('dead-letter');
            expect(records[0]!.value).toBe(input.value);
            expect(records[0]!.headers[ERROR_HEADER]).toContain('transform ./t.mjs#shape returned');
            expect(records[0]!.headers[SOURCE_HEADER]).toBe('files');
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('a throw of anything is poison naming the transform; a retriable TidemarkError is retried', async () => {
    const thrownValue = fc.oneof(
      fc.anything(),
      fc.string().map((message) => new Error(message)),
      fc.constant(new TidemarkError('CONNECTION_FAILED', 'lookup down', { retriable: true })),
      fc.constant(Object.create(null) as unknown),
      fc.constant(Symbol('odd') as unknown),
    );
    await fc.assert(
      fc.asyncProperty(
        thrownValue,
        fc.constantFrom('fail', 'skip', 'dead-letter' as const),
        async (thrown, policy) => {
          const step = labelTransform(async () => {
            throw thrown;
          }, './t.mjs#throws');
          const outcome = await stage(policy, [step])
            .process(input, 'files')
            .then(
              (records) => ({ records }),
              (error: unknown) => ({ error }),
            );
          if (TidemarkError.isInstance(thrown) && thrown.retriable) {
            expect(outcome).toEqual({ error: thrown });
            return;
          }
          if (policy === 'fail') {
            const error = (outcome as { error: TidemarkError }).error;
            expect(error.code).toBe('POISON_RECORD');
            expect(error.message).toContain('transform ./t.mjs#throws threw');
          } else if (policy === 'skip') {
            expect(outcome).toEqual({ records: [] });
          } else {
            const records = (outcome as { records: SinkRecord[] }).records;
            expect(records.map((record) => record.route)).toEqual(['dead-letter']);
            expect(records[0]!.headers[ERROR_HEADER]).toContain('transform ./t.mjs#throws threw');
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
