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
  /**
   * Optional preflight for `tidemark validate --connect`: reaches the server with the parsed
   * options and checks what the source needs exists (topic, queue, table, directory). Throws a
   * TidemarkError whose `fix` says what to change; must finish or fail once `context.signal`
   * aborts.
   */
  check?(config: z.output<Schema>, context: ConnectorContext): Promise<void>;
  /**
   * Optional: splits this source into `taskCount` tasks by its units of order (Kafka
   * partitions, files, shards). Returns exactly `taskCount` configurations; task `n` reads only
   * the units of configuration `n`, every unit belongs to exactly one task, and a unit's task
   * depends only on the unit and `taskCount` (so re-splitting watermarks is a pure function, see
   * {@link SourceConnector.taskOfUnit}). Pure, no I/O. A source without it runs as one task.
   * `null` for a task means the task reads no unit of this source (it runs without it).
   */
  split?(config: z.output<Schema>, taskCount: number): (z.output<Schema> | null)[];
  /** With `split`: the task (0-based) that owns watermark unit `unit` among `taskCount` tasks. */
  taskOfUnit?(unit: string, taskCount: number): number;
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
  /** Creates an unopened sink. Must not do I/O: the runtime calls `open`. */
  create(config: z.output<Schema>, context: ConnectorContext): TransactionalSink;
  /** Optional preflight for `tidemark validate --connect`, as on {@link SourceConnector.check}. */
  check?(config: z.output<Schema>, context: ConnectorContext): Promise<void>;
  /**
   * Optional run lease kept in the sink's system: `tidemark run` holds it while a pipeline
   * runs and `tidemark watermarks reset` refuses while anyone holds it. Without it, the CLI
   * cannot tell whether a pipeline runs elsewhere and says so.
   */
  readonly lease?: RunLeaseHook<z.output<Schema>>;
  /**
   * Optional task membership kept in the sink's system: instances running the same pipeline
   * join one group and the group protocol decides which instance owns which task. Without it,
   * `tidemark run` runs every task of the pipeline in its own process.
   */
  readonly membership?: TaskMembershipHook<z.output<Schema>>;
}

/** One instance's membership of a pipeline's task group. */
export interface TaskMembership {
  /**
   * Joins the group. `onAssignment` is called with the complete set of task numbers this
   * instance owns after every rebalance (empty: stand-by, or the membership was lost); calls
   * are sequential, the next waits for the previous promise.
   */
  join(onAssignment: (tasks: readonly number[]) => Promise<void>): Promise<void>;
  /** The instance name other members see (host, pid). */
  readonly instance: string;
  /** Leaves the group at once, so the tasks move without waiting for a session timeout. Idempotent. */
  leave(): Promise<void>;
  /** How many silent members this instance removed from the group (a faster failure detector than the session timeout), when the membership has one. */
  readonly evictions?: number;
}

/** A member of a task group as the group coordinator describes it. */
export interface TaskGroupMember {
  readonly instance: string;
  readonly host: string;
  /** Tasks assigned to it; empty for a stand-by. */
  readonly tasks: readonly number[];
}

/** How a sink keeps the task group of a pipeline, see {@link SinkConnector.membership}. */
export interface TaskMembershipHook<Config> {
  /**
   * This instance's (not yet joined) membership for `taskCount` tasks of `pipelineId`. No I/O.
   * `sessionTimeoutMs`: how long a silent member keeps its tasks (the takeover time after a
   * crash). `livenessTimeoutMs` (0 or absent: off): how long a member may stop publishing its
   * liveness before the others remove it, for memberships that detect failures faster than the
   * session timeout.
   */
  create(
    config: Config,
    pipelineId: string,
    taskCount: number,
    context: ConnectorContext,
    sessionTimeoutMs: number,
    livenessTimeoutMs?: number,
  ): TaskMembership;
  /** The group's current members and their tasks (empty when nobody runs the pipeline). */
  describe(
    config: Config,
    pipelineId: string,
    context: ConnectorContext,
  ): Promise<{ readonly state: string; readonly members: readonly TaskGroupMember[] }>;
}

/** The run lease of one pipeline, held while it runs. */
export interface RunLease {
  /** Takes the lease; resolves true once held, false when not held within `timeoutMs` (the caller warns and runs on). */
  acquire(timeoutMs: number): Promise<boolean>;
  /** True while the lease is held. */
  readonly held: boolean;
  /** Gives the lease up at once (so a reset right after shutdown is allowed). Idempotent. */
  release(): Promise<void>;
}

/** How a sink keeps the run lease of a pipeline, see {@link SinkConnector.lease}. */
export interface RunLeaseHook<Config> {
  /** The (not yet held) run lease of pipeline `pipelineId`. No I/O. */
  create(config: Config, pipelineId: string, context: ConnectorContext): RunLease;
  /** Throws ILLEGAL_STATE, naming the holders, while any process holds the lease of `pipelineId`. */
  assertFree(config: Config, pipelineId: string, context: ConnectorContext): Promise<void>;
}

export type Connector = SourceConnector | SinkConnector;
