import {
  type ConnectorContext,
  type ProvenanceColumn,
  type RunLeaseHook,
  SINK_SPECIFICATION_VERSION,
  type SinkCapabilities,
  type SinkConnector,
  SOURCE_SPECIFICATION_VERSION,
  type Source,
  type SourceCapabilities,
  type SourceConnector,
  type TaskMembershipHook,
  TidemarkError,
  type TransactionalSink,
} from '@tidemark/core';
import type { z } from 'zod';

/** What a plugin author writes: everything but the specification version, which the SDK stamps. */
export interface SourceDefinition<Schema extends z.ZodType> {
  /** The `type` users write in YAML. Lowercase letters, digits and dashes. */
  type: string;
  packageName: string;
  version: string;
  description: string;
  configSchema: Schema;
  /** Required: how the source replays, whether it is exactly-once, whether it ends. */
  capabilities: SourceCapabilities;
  provenance: readonly ProvenanceColumn[];
  /** Must not do I/O: the runtime calls `open`. */
  create(config: z.output<Schema>, context: ConnectorContext): Source;
  /** Optional preflight for `tidemark validate --connect` (see SourceConnector.check). */
  check?(config: z.output<Schema>, context: ConnectorContext): Promise<void>;
  /** Optional split into tasks (see SourceConnector.split). */
  split?(config: z.output<Schema>, taskCount: number): (z.output<Schema> | null)[];
  /** With split: the task owning a watermark unit (see SourceConnector.taskOfUnit). */
  taskOfUnit?(unit: string, taskCount: number): number;
}

export interface SinkDefinition<Schema extends z.ZodType> {
  type: string;
  packageName: string;
  version: string;
  description: string;
  configSchema: Schema;
  capabilities: SinkCapabilities;
  /** Must not do I/O: the runtime calls `open`. */
  create(config: z.output<Schema>, context: ConnectorContext): TransactionalSink;
  /** Optional preflight for `tidemark validate --connect` (see SinkConnector.check). */
  check?(config: z.output<Schema>, context: ConnectorContext): Promise<void>;
  /** Optional run lease (see SinkConnector.lease). */
  lease?: RunLeaseHook<z.output<Schema>>;
  /** Optional task group membership (see SinkConnector.membership). */
  membership?: TaskMembershipHook<z.output<Schema>>;
}

const TYPE_PATTERN = /^[a-z][a-z0-9-]*$/;

function checkCommon(definition: { type: string; capabilities: object; packageName: string }): void {
  if (!TYPE_PATTERN.test(definition.type)) {
    throw new TidemarkError(
      'CONFIG_INVALID',
      `connector type '${definition.type}' must match ${TYPE_PATTERN}`,
      {
        fix: 'Use lowercase letters, digits and dashes, starting with a letter.',
      },
    );
  }
  for (const [key, value] of Object.entries(definition.capabilities)) {
    if (value === undefined || value === null) {
      throw new TidemarkError(
        'CONFIG_INVALID',
        `${definition.packageName}: capability '${key}' must be declared`,
      );
    }
  }
}

/**
 * Declares a source plugin. The result is what the package exports (as `default` or by name)
 * and what the runtime loads by `type` or package name.
 */
export function defineSource<Schema extends z.ZodType>(
  definition: SourceDefinition<Schema>,
): SourceConnector<Schema> {
  checkCommon(definition);
  const { replay, exactlyOnce, bounded } = definition.capabilities;
  if (replay !== 'seek' && replay !== 'redeliver') {
    throw new TidemarkError(
      'CONFIG_INVALID',
      `${definition.packageName}: capabilities.replay must be 'seek' or 'redeliver'`,
    );
  }
  if (typeof exactlyOnce !== 'boolean' || typeof bounded !== 'boolean') {
    throw new TidemarkError(
      'CONFIG_INVALID',
      `${definition.packageName}: capabilities.exactlyOnce and .bounded must be booleans`,
    );
  }
  return Object.freeze({ kind: 'source', specificationVersion: SOURCE_SPECIFICATION_VERSION, ...definition });
}

/** Declares a sink plugin. */
export function defineSink<Schema extends z.ZodType>(
  definition: SinkDefinition<Schema>,
): SinkConnector<Schema> {
  checkCommon(definition);
  return Object.freeze({ kind: 'sink', specificationVersion: SINK_SPECIFICATION_VERSION, ...definition });
}
