/**
 * @tidemark/source-kinesis — reads every shard of Amazon Kinesis data streams into Tidemark,
 * positioned per shard by the pipeline's committed watermark, children after their parents
 * across splits and merges. Exactly-once by seek.
 */
import { type ConnectorContext, defineSource } from '@tidemark/sdk';
import { type KinesisSourceConfig, kinesisSourceConfigSchema } from './config.js';
import { checkKinesisStreams, createKinesisSource } from './kinesis-source.js';
import { KINESIS_PROVENANCE } from './provenance.js';

export { deaggregate, KPL_MAGIC, type UserRecord } from './aggregation.js';
export {
  type KinesisSourceConfig,
  type KinesisSourceConfigInput,
  kinesisSourceConfigSchema,
} from './config.js';
export { checkKinesisStreams, createKinesisSource, KinesisSource } from './kinesis-source.js';
export { KINESIS_PROVENANCE } from './provenance.js';
export type { StreamPosition } from './stream-position.js';

const definition = {
  type: 'kinesis',
  packageName: '@tidemark/source-kinesis',
  version: '0.1.0',
  description:
    'Reads every shard of Kinesis data streams, children after parents; positions per shard; exactly-once by seek.',
  configSchema: kinesisSourceConfigSchema,
  capabilities: { replay: 'seek', exactlyOnce: true, bounded: false } as const,
  provenance: KINESIS_PROVENANCE,
  create: (config: KinesisSourceConfig, context: ConnectorContext) =>
    createKinesisSource(config, context.name, context.logger),
  /** Preflight of `tidemark validate --connect`: every stream exists and answers. */
  check: (config: KinesisSourceConfig) => checkKinesisStreams(config),
};

/** The Kinesis source connector (`type: kinesis`). */
export const kinesisSource = defineSource(definition);

export default kinesisSource;
