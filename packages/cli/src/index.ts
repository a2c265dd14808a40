/**
 * @tidemark/cli — the `tidemark` command, and its building blocks for programmatic use:
 * load and validate a YAML configuration, build pipelines from it, and run them.
 */

export { composeTransforms } from '@tidemark/core';
export { redactSecrets } from '@tidemark/sdk';
export { type CliIo, main } from './cli.js';
export { listPlugins } from './commands/plugins.js';
export { buildFileJsonSchema } from './commands/schema.js';
export { validateFiles } from './commands/validate.js';
export {
  parseResetTarget,
  type ResetTarget,
  resetWatermarks,
  showWatermarks,
} from './commands/watermarks.js';
export { parseDuration } from './config/duration.js';
export { interpolateEnvironment } from './config/env.js';
export {
  type LoadedConfig,
  type LoadedPipeline,
  type LoadedSink,
  type LoadedSource,
  loadConfigFile,
} from './config/load.js';
export { type ConfigFile, configFileSchema, type PipelineConfig, pipelineSchema } from './config/schema.js';
export { discoverConnectors, type InstalledConnector } from './connectors/discover.js';
export { loadConnector, packageForType } from './connectors/resolve.js';
export { buildPipeline, effectiveConfiguration } from './runtime/build.js';
export { PipelineMetrics } from './runtime/metrics.js';
export { type RunOptions, runCommand } from './runtime/run.js';
export { loadTransform } from './runtime/transforms.js';
