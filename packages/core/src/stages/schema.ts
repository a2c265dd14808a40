import { z } from 'zod';
import { durationSchema } from '../duration.js';
import { TidemarkError } from '../errors.js';
import { parseAggregate } from './aggregate.js';
import type { StagesSpec } from './chain.js';
import { compileExpression } from './expression.js';
import type { WindowSpec } from './window.js';

const COLUMN_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `tsort:` of a pipeline: `{ within: 2s, late: drop }`. */
export const tsortConfigSchema = z
  .object({
    within: durationSchema(
      'How far (in rowtime) a record may arrive behind the newest one and still be put in order, e.g. 2s.',
    ),
    late: z
      .enum(['drop', 'dead-letter'])
      .default('drop')
      .describe(
        "A record further behind: drop it (counted in metrics) or send it to the sink's dead-letter output.",
      ),
    maxHeld: z
      .number()
      .int()
      .positive()
      .default(100_000)
      .describe('Most records held for reordering at once; beyond it the pipeline stops and says so.'),
  })
  .strict()
  .describe('Reorders records by rowtime within a bounded delay (ORDER BY rowtime WITHIN).');

/** `window:` of a pipeline: one of `range` (sliding) or `tumble`, a partition key, aggregates. */
export const windowConfigSchema = z
  .object({
    range: durationSchema(
      'Sliding window: one output per row, over the rows of its partition in (rowtime − range, rowtime].',
    ).optional(),
    tumble: durationSchema(
      'Tumbling window: one output per partition and window [start, start + tumble), at its end.',
    ).optional(),
    partitionBy: z
      .union([z.string(), z.array(z.string())])
      .default([])
      .transform((value) => (typeof value === 'string' ? [value] : value))
      .describe('Expression(s) whose values partition the rows, e.g. product_id. Default: one partition.'),
    aggregates: z
      .record(z.string().regex(COLUMN_NAME, 'column names are letters, digits and _'), z.string())
      .refine((value) => Object.keys(value).length > 0, { message: 'needs at least one aggregate' })
      .describe(
        "Output column → aggregate, e.g. { total: 'sum(price * quantity)' }: sum, count, min, max, avg.",
      ),
  })
  .strict()
  .superRefine((value, context) => {
    if ((value.range === undefined) === (value.tumble === undefined)) {
      context.addIssue({ code: 'custom', message: 'set exactly one of range (sliding) or tumble', path: [] });
    }
    value.partitionBy.forEach((text, index) => {
      const problem = expressionProblem(() => compileExpression(text));
      if (problem) context.addIssue({ code: 'custom', message: problem, path: ['partitionBy', index] });
    });
    for (const [name, text] of Object.entries(value.aggregates)) {
      const problem = expressionProblem(() => parseAggregate(name, text));
      if (problem) context.addIssue({ code: 'custom', message: problem, path: ['aggregates', name] });
    }
  })
  .describe('A windowed aggregate over t-sorted rows (RANGE INTERVAL … PRECEDING, or tumbling).');

export type TsortConfig = z.output<typeof tsortConfigSchema>;
export type WindowConfig = z.output<typeof windowConfigSchema>;

/** The stages spec of a validated pipeline configuration. */
export function stagesSpecOf(config: {
  tsort?: TsortConfig | undefined;
  window?: WindowConfig | undefined;
}): StagesSpec {
  const spec: { -readonly [K in keyof StagesSpec]: StagesSpec[K] } = {};
  if (config.tsort)
    spec.tsort = { withinMs: config.tsort.within, late: config.tsort.late, maxHeld: config.tsort.maxHeld };
  if (config.window) spec.window = windowSpecOf(config.window);
  return spec;
}

function windowSpecOf(config: WindowConfig): WindowSpec {
  const common = { partitionBy: config.partitionBy, aggregates: config.aggregates };
  return config.range !== undefined
    ? { kind: 'sliding', rangeMs: config.range, ...common }
    : { kind: 'tumbling', sizeMs: config.tumble!, ...common };
}

function expressionProblem(check: () => unknown): string | undefined {
  try {
    check();
    return undefined;
  } catch (thrown) {
    if (TidemarkError.isInstance(thrown)) return thrown.message;
    throw thrown;
  }
}
