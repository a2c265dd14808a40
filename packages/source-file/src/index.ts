import { defineSource, splitBySlice } from '@tidemark/sdk';
import { fileSourceConfigSchema } from './config.js';
import { FILE_PROVENANCE, FileSource } from './file-source.js';

export { type FileSourceConfig, type FileSourceConfigInput, fileSourceConfigSchema } from './config.js';
export { type CsvParseResult, parseCsvLine, parseCsvRecord } from './csv.js';
export { createFileSource, FILE_PROVENANCE, FileSource } from './file-source.js';
export { type DecodedWatermark, decodeWatermark, type LaneState } from './file-watermark.js';
export { LineSplitter, type LineSplitterOptions, type SplitLine } from './line-splitter.js';

/**
 * The `file` source connector. Declared capabilities are those of the default configuration
 * (`watch: true`, unbounded); a source created with `watch: false` reports `bounded: true` on
 * its own `capabilities`.
 */
export const fileSource = defineSource({
  type: 'file',
  packageName: '@tidemark/source-file',
  version: '0.1.0',
  description:
    'Reads the files of a directory line by line (lines, JSON lines, CSV), tailing appends and following rotation, with byte-exact resume.',
  configSchema: fileSourceConfigSchema,
  capabilities: { replay: 'seek', exactlyOnce: true, bounded: false },
  provenance: FILE_PROVENANCE,
  create: (config, context) => new FileSource(config, context.name, context.logger),
  /**
   * Task n reads the files whose identity (device, inode, birth time: stable across renames and
   * rotation) hashes to n. Its watermark units are lanes, not files, so no taskOfUnit: changing
   * the number of tasks of a file pipeline needs a fresh start.
   */
  split: (config, taskCount) => splitBySlice(config, taskCount),
});

export default fileSource;
