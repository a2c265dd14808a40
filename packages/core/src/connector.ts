import type { z } from 'zod';
import type { Logger } from './logger.js';
import type { ProvenanceColumn } from './record.js';
import type { SinkCapabilities, TransactionalSink } from './sink.js';
import type { Source, SourceCapabilities } from './source.js';

/** The plugin contract versions this core speaks. A plugin declares one as a literal. */
export const SOURCE_SPECIFICATION_VERSION = 'tidemark.source/v1' as const;
export const SINK_SPECIFICATION_VERSION = 'tidemark.sink/v1' as const;

/** Given to `create`: everything a connector may use from the runtime. */
export interface ConnectorContext {
  /** Instance name from the configuration (keys the watermark of a source). */
  readonly name: string;
  readonly logger: Logger;
  /** Aborted when the process shuts down. */
  readonly signal: AbortSignal;
}

/** A source plugin: a typed factory. Built with `defineSource` from `@tidemark/sdk`. */
export interface SourceConnector<Schema extends z.ZodType = z.ZodType> {
  readonly kind: 'source';
  readonly specificationVersion: typeof SOURCE_SPECIFICATION_VERSION;
  /** The `type` users write in YAML, e.g. `kafka`, `file`. */
  readonly type: string;
  /** npm package that ships it, named in errors (e.g. "upgrade @tidemark/source-kafka"). */
  readonly packageName: string;
  readonly version: string;
  readonly description: string;
  /** Validates and defaults the YAML options; fields carry descriptions, secrets `.meta({ secret: true })`. */
  readonly configSchema: Schema;
  readonly capabilities: SourceCapabilities;
  readonly provenance: readonly ProvenanceColumn[];
  /** Creates an unopened source. Must not do I/O: the runtime calls `open`. */
  create(config: z.output<Schema>, context: ConnectorContext): Source;
}

/** A sink plugin. Built with `defineSink` from `@tidemark/sdk`. */
export interface SinkConnector<Schema extends z.ZodType = z.ZodType> {
  readonly kind: 'sink';
  readonly specificationVersion: typeof SINK_SPECIFICATION_VERSION;
  readonly type: string;
  readonly packageName: string;
  readonly version: string;
  readonly description: string;
  readonly configSchema: Schema;
  readonly capabilities: SinkCapabilities;
  create(config: z.output<Schema>, context: ConnectorContext): TransactionalSink;
}

export type Connector = SourceConnector | SinkConnector;
