import { type ConnectorContext, silentLogger } from '@tidemark/core';
import type { ConfigPath, PathIssue } from '@tidemark/sdk';
import type { LoadedSink, LoadedSource } from './load.js';
import type { PipelineConfig } from './schema.js';

/**
 * Checks of the `tsort:` and `window:` sections that need the loaded connectors (docs/windows.md,
 * "Exactly-once"): a window warms up after a restart by seeking its sources to a rowtime, so
 * every source must translate a time into a watermark (`watermarkAt`) and the rowtime must be the
 * source's own time; a held record of a unit that never committed restarts at the configured
 * start, so `start: latest` would skip it; `late: dead-letter` needs the sink's dead-letter output.
 */
export function stagesIssues(
  config: PipelineConfig,
  sources: readonly LoadedSource[],
  sink: LoadedSink | undefined,
  base: ConfigPath,
): PathIssue[] {
  if (config.tsort === undefined && config.window === undefined) return [];
  const section = config.window !== undefined ? 'window' : 'tsort';
  const issues: PathIssue[] = [];
  for (const [index, source] of sources.entries()) {
    const options = (source.options ?? {}) as Record<string, unknown>;
    if (options.start === 'latest') {
      issues.push({
        path: [...base, 'sources', index, 'start'],
        message: `a pipeline with ${section} cannot start a source at 'latest': records held for reordering when it stops would be skipped on restart; set start to 'earliest' or a fixed time`,
      });
    }
    if (config.window !== undefined && !canSeekByTime(source)) {
      issues.push({
        path: [...base, 'sources', index, 'type'],
        message: `source '${source.name}' (type '${source.type}') cannot seek by time, so the window cannot rebuild its state after a restart; use a source that can (kafka, kinesis, rdbms, amqp with queueType: stream), or remove the window and keep tsort`,
      });
    }
  }
  if (config.window !== undefined && config.rowtime?.from === 'field') {
    issues.push({
      path: [...base, 'rowtime', 'from'],
      message:
        "a window needs the rowtime its sources seek by, not one promoted from a payload field; remove `rowtime` (the source's timestamp is the default) or use its timestamp column (`from: provenance`)",
    });
  }
  if (config.tsort?.late === 'dead-letter' && sink) {
    const options = (sink.options ?? {}) as Record<string, unknown>;
    const needsTopic = 'deadLetterTopic' in ((sink.connector.configSchema as { shape?: object }).shape ?? {});
    if (!sink.connector.capabilities.deadLetter || (needsTopic && !options.deadLetterTopic)) {
      issues.push({
        path: [...base, 'tsort', 'late'],
        message: `late: dead-letter needs the sink's dead-letter output${needsTopic ? ' (the sink option deadLetterTopic)' : ''}; or set late: drop`,
      });
    }
  }
  return issues;
}

/** True when the source replays by seeking and translates a time into a watermark. `create` does no I/O. */
function canSeekByTime(source: LoadedSource): boolean {
  const context: ConnectorContext = {
    name: source.name,
    logger: silentLogger,
    signal: new AbortController().signal,
  };
  try {
    const instance = source.connector.create(source.options as never, context);
    return typeof instance.watermarkAt === 'function' && instance.capabilities.replay === 'seek';
  } catch {
    return false;
  }
}
