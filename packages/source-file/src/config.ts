import { taskSliceSchema } from '@tidemark/sdk';
import { z } from 'zod';

/** Options of the `file` source, as written in YAML under a source of `type: file`. */
export const fileSourceConfigSchema = z
  .object({
    directory: z
      .string()
      .min(1)
      .describe('Directory holding the files to read. Only its top level is scanned.'),
    pattern: z
      .string()
      .min(1)
      .default('*')
      .describe(
        'Glob matched against file names in `directory` (path.matchesGlob syntax: `*.log`, `orders-*.{csv,txt}`). `*` skips dot-files.',
      ),
    order: z
      .enum(['name', 'mtime'])
      .default('name')
      .describe('Order files are taken in: by name (code-point order), or by modification time (then name).'),
    format: z
      .enum(['lines', 'jsonl', 'csv'])
      .default('lines')
      .describe(
        'lines: every line is a record (bytes as is); jsonl: every non-blank line must be JSON; csv: the first line is a header, every later non-blank line becomes a JSON object header→field.',
      ),
    encoding: z
      .literal('utf8')
      .default('utf8')
      .describe('Text encoding of the files. Only utf8 is supported.'),
    watch: z
      .boolean()
      .default(true)
      .describe(
        'true: tail the directory forever (new files, appends, rotation). false: batch mode, read the current file set once and end.',
      ),
    pollIntervalMs: z
      .number()
      .int()
      .positive()
      .default(1_000)
      .describe('How often the directory is rescanned when tailing, in addition to file-system events (ms).'),
    finishIdleMs: z
      .number()
      .int()
      .positive()
      .nullable()
      .default(null)
      .describe(
        'Tail mode only: a file read to its end, unchanged for this long and followed by a later file in `order` is finished (later appends to it are ignored). null: a matching file is never finished while it stays in the glob.',
      ),
    maxLineBytes: z
      .number()
      .int()
      .positive()
      .default(1_000_000)
      .describe(
        "Longest line accepted (bytes, without its line ending: `\\n` or `\\r\\n`). A longer line becomes a poison record holding its first maxLineBytes bytes. The default leaves room for headers under Kafka's default message.max.bytes (1,048,588); a sink also refuses, as poison, a record larger than its topic accepts.",
      ),
    readBufferBytes: z
      .number()
      .int()
      .min(4096)
      .default(1024 * 1024)
      .describe('Size of each buffered file read (bytes).'),
    key: z
      .string()
      .min(1)
      .optional()
      .describe(
        'jsonl/csv only: name of a top-level field whose value becomes the record key (strings as is, other values as JSON).',
      ),
    rowtimeField: z
      .string()
      .min(1)
      .optional()
      .describe(
        'jsonl/csv only: top-level field holding the event time, as an epoch number in `rowtimeUnit` or an ISO-8601 string. A time outside years 1970–9999 makes the record poison. Default rowtime: the file modification time when read.',
      ),
    rowtimeUnit: z
      .enum(['ms', 's', 'us', 'ns'])
      .default('ms')
      .describe(
        'Unit of a numeric `rowtimeField` value (and of digit strings): ms, s, us or ns since 1970-01-01T00:00:00Z. ISO-8601 strings are read as they are.',
      ),
    start: z
      .enum(['earliest', 'latest'])
      .default('earliest')
      .describe(
        'Where to start when no watermark was committed: earliest reads every file from its beginning; latest reads only what is appended to existing files after the source first opened (files created later are read whole).',
      ),
    task: taskSliceSchema,
  })
  .superRefine((config, context) => {
    if (config.format === 'lines') {
      for (const field of ['key', 'rowtimeField'] as const) {
        if (config[field] !== undefined) {
          context.addIssue({
            code: 'custom',
            path: [field],
            message: `${field} needs format 'jsonl' or 'csv': plain lines have no fields`,
          });
        }
      }
    }
  })
  .describe('Reads files of a directory line by line, with rotation-safe byte-position watermarks.');

/** The validated, defaulted configuration of a file source. */
export type FileSourceConfig = z.output<typeof fileSourceConfigSchema>;
/** What a user may write (defaults filled in by the schema). */
export type FileSourceConfigInput = z.input<typeof fileSourceConfigSchema>;
