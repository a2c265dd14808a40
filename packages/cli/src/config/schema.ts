import { tsortConfigSchema, windowConfigSchema } from '@tidemark/core';
import { z } from 'zod';
import { durationSchema } from './duration.js';

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

const name = (what: string) =>
  z
    .string()
    .regex(
      NAME_PATTERN,
      'expected letters, digits, dots, dashes and underscores, starting with a letter or digit',
    )
    .describe(what);

const connectorType = (kind: 'source' | 'sink') =>
  z
    .string()
    .min(1)
    .describe(
      `Connector: a short type (\`file\`, \`kafka\`, … resolves to @tidemark/${kind}-<type>), an npm package name, or a ./path to a local plugin (relative to this file).`,
    );

/** A source entry before its connector validates the options. */
export const sourceEntrySchema = z
  .looseObject({
    name: name('Source name, unique within the pipeline: it keys the source watermark.'),
    type: connectorType('source'),
  })
  .describe('One input of the pipeline; every other key is an option of the connector.');

/** The sink entry before its connector validates the options. */
export const sinkEntrySchema = z
  .looseObject({ type: connectorType('sink') })
  .describe('Where the pipeline writes; every other key is an option of the connector.');

export const rowtimeSchema = z
  .strictObject({
    from: z
      .enum(['provenance', 'field'])
      .describe(
        'Where the rowtime comes from: a provenance column of the source, or a field of the JSON value.',
      ),
    column: z
      .string()
      .optional()
      .describe("With from: provenance — the column, e.g. 'kafka.timestamp' (see `tidemark plugins`)."),
    field: z
      .string()
      .optional()
      .describe("With from: field — a dotted path into the record's JSON value, e.g. 'event.time'."),
    format: z
      .enum(['auto', 'epoch-ms', 'epoch-s', 'iso'])
      .default('auto')
      .describe(
        "How the value is read: epoch milliseconds, epoch seconds, an ISO-8601 string, or 'auto' (numbers are ms, strings ISO).",
      ),
  })
  .superRefine((value, context) => {
    if (value.from === 'provenance' && value.column === undefined) {
      context.addIssue({ code: 'custom', path: ['column'], message: "required when from is 'provenance'" });
    }
    if (value.from === 'field' && value.field === undefined) {
      context.addIssue({ code: 'custom', path: ['field'], message: "required when from is 'field'" });
    }
  })
  .describe(
    'Promotes the rowtime (event time) of every record before transforms run. Default: the source timestamp.',
  );

export const transformSchema = z
  .strictObject({
    module: z
      .string()
      .min(1)
      .describe('Path of a JS/TS module (relative to this file) or a package name exporting the transform.'),
    export: z
      .string()
      .default('default')
      .describe('Name of the export: a function (record) => record | record[] | null.'),
  })
  .describe('A map/filter/flatMap step; steps run in order.');

export const commitSchema = z
  .strictObject({
    maxRecords: z
      .number()
      .int()
      .positive()
      .default(50_000)
      .describe('Commit once the open transaction holds this many records.'),
    maxBytes: z
      .number()
      .int()
      .positive()
      .default(33_554_432)
      .describe('Commit once the open transaction holds this many payload bytes.'),
    interval: durationSchema(
      'Commit once the transaction has been open this long. The first transaction after a start or a recovery commits as soon as a read returns less than a full batch (the replay is drained), so a restarted pipeline shows its output sooner.',
    ).prefault('1s'),
    rowtimeSpan: durationSchema(
      'Optional: a transaction never crosses a rowtime span boundary of this size (SQLstream TRANSACTION_ROWTIME_LIMIT).',
    ).optional(),
    idleRecommit: durationSchema(
      'Re-commit the unchanged watermarks of an idle pipeline this often, so they never expire.',
    ).prefault('1h'),
  })
  .describe('When the open transaction commits: whichever limit is reached first.');

export const retrySchema = z
  .strictObject({
    maxConsecutiveFailures: z
      .number()
      .int()
      .positive()
      .default(10)
      .describe('Failed attempts in a row (without a commit in between) before the pipeline stops.'),
    initialBackoff: durationSchema('Wait after the first failure; doubles per failure.').prefault('200ms'),
    maxBackoff: durationSchema('Upper bound of the wait between attempts.').prefault('30s'),
  })
  .describe(
    'How a pipeline retries after retriable failures (it rewinds to the committed watermark each time).',
  );

export const batchSchema = z
  .strictObject({
    maxRecords: z
      .number()
      .int()
      .positive()
      .default(5_000)
      .describe('Records read from a source per read call.'),
    maxBytes: z
      .number()
      .int()
      .positive()
      .default(4_194_304)
      .describe('Bytes read from a source per read call.'),
    maxWait: durationSchema('How long one read may wait for data.').prefault('100ms'),
  })
  .describe('Read batch limits (backpressure).');

export const groupSchema = z
  .strictObject({
    enabled: z
      .boolean()
      .optional()
      .describe(
        "Share the tasks among every instance running this file through the sink's group membership (stand-by instances take over a dead one's tasks). Default: on when tasks > 1.",
      ),
    sessionTimeout: durationSchema(
      'How long a silent instance keeps its tasks when nothing removes it sooner (at least the broker minimum, 6 s on Kafka).',
    ).prefault('6s'),
    livenessTimeout: z
      .union([z.literal(false), z.literal(0), durationSchema('')])
      .transform((value) => (typeof value === 'number' ? value : 0))
      .prefault('2s')
      .describe(
        'Instances publish their liveness every 500 ms (a quarter of this at most); one silent this long is removed from the group by the others: the takeover time after a crash. Lower: faster takeover, more spurious rebalances under long pauses. false or 0: only sessionTimeout removes it.',
      ),
  })
  .describe('Group membership of the instances running this pipeline.');

export const pipelineSchema = z
  .strictObject({
    name: name(
      'Pipeline name, unique in the file: derives the sink transactional identity and the watermark key.',
    ),
    guarantee: z
      .enum(['exactly-once', 'at-least-once'])
      .default('exactly-once')
      .describe(
        'exactly-once (default) refuses sources that cannot replay exactly; at-least-once accepts them.',
      ),
    sources: z
      .array(sourceEntrySchema)
      .min(1, 'a pipeline needs at least one source')
      .describe('The inputs.'),
    rowtime: rowtimeSchema.optional(),
    transforms: z
      .array(transformSchema)
      .default([])
      .describe('Transforms applied in order after rowtime promotion.'),
    tsort: tsortConfigSchema.optional(),
    window: windowConfigSchema.optional(),
    sink: sinkEntrySchema,
    commit: commitSchema.prefault({}).describe(commitSchema.description ?? ''),
    poison: z
      .enum(['fail', 'skip', 'dead-letter'])
      .default('fail')
      .describe(
        "What to do with a record that cannot be decoded or transformed: stop the pipeline (fail), drop it (skip), or route it to the sink's dead-letter output (dead-letter, needs the sink's deadLetterTopic).",
      ),
    retry: retrySchema.prefault({}).describe(retrySchema.description ?? ''),
    batch: batchSchema.prefault({}).describe(batchSchema.description ?? ''),
    tasks: z
      .number()
      .int()
      .positive()
      .max(1024)
      .default(1)
      .describe(
        "Tasks the pipeline splits into by its sources' units of order (Kafka partitions, files); each has its own transactional id and watermark. Change it with `tidemark tasks resize`.",
      ),
    group: groupSchema.prefault({}).describe(groupSchema.description ?? ''),
  })
  .describe('One pipeline: sources → rowtime → transforms → tsort → window → a transactional sink.');

export const configFileSchema = z
  .strictObject({
    pipelines: z
      .array(pipelineSchema)
      .min(1, 'the file defines no pipeline')
      .describe('The pipelines this file runs.'),
  })
  .describe('A Tidemark configuration file.');

export type PipelineConfig = z.output<typeof pipelineSchema>;
export type ConfigFile = z.output<typeof configFileSchema>;
