#!/usr/bin/env node
// One pipeline in its own process, for the chaos harness: it is SIGKILLed at random and
// restarted. Built from the connectors' generic contract (configSchema + create), exactly as
// the CLI builds them. Spec comes as JSON in TIDEMARK_CHAOS_SPEC:
//   { pipelineId, sources: [{ name, package, options }], sink: { package, options }, commit, batch }
// Exit codes: 0 stopped, 3 fenced by a newer instance, 1 any other failure.
import { Pipeline, TidemarkError } from '@tidemark/core';

const spec = JSON.parse(process.env.TIDEMARK_CHAOS_SPEC ?? '{}');
const signalController = new AbortController();
const logger = makeLogger();

async function load(packageName) {
  const module = await import(packageName);
  return module.default;
}

const sources = [];
for (const source of spec.sources) {
  const connector = await load(source.package);
  const config = connector.configSchema.parse(source.options);
  sources.push(
    connector.create(config, {
      name: source.name,
      logger: logger.child({ source: source.name }),
      signal: signalController.signal,
    }),
  );
}
const sinkConnector = await load(spec.sink.package);
const sink = sinkConnector.create(sinkConnector.configSchema.parse(spec.sink.options), {
  name: 'sink',
  logger: logger.child({ sink: 'kafka' }),
  signal: signalController.signal,
});

const pipeline = new Pipeline({
  id: spec.pipelineId,
  sources,
  sink,
  commit: spec.commit ?? {},
  batch: spec.batch ?? {},
  retry: { maxConsecutiveFailures: 1000, initialBackoffMs: 200, maxBackoffMs: 2000 },
  stopWhenSourcesEnd: false,
  logger,
  observer: {
    onCommit: ({ records, watermarks }) => logger.debug({ records, watermarks }, 'commit'),
    onRewind: ({ error }) => logger.info({ code: error.code, err: error.message }, 'rewind'),
  },
});

for (const signal of ['SIGTERM', 'SIGINT']) process.once(signal, () => pipeline.stop());
try {
  await pipeline.run();
  process.exit(0);
} catch (error) {
  const fenced = TidemarkError.hasCode(error, 'FENCED');
  process.stderr.write(`${JSON.stringify({ level: 'error', code: error?.code, msg: error?.message })}\n`);
  process.exit(fenced ? 3 : 1);
}

function makeLogger(bindings = {}) {
  const verbose = process.env.TIDEMARK_CHAOS_VERBOSE === '1';
  const write = (level) => (fields, message) => {
    if (level === 'debug' && !verbose) return;
    process.stderr.write(
      `${JSON.stringify({ level, pid: process.pid, ...bindings, ...fields, msg: message })}\n`,
    );
  };
  return {
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    child: (more) => makeLogger({ ...bindings, ...more }),
  };
}
