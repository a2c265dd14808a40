#!/usr/bin/env node
import { main } from './cli.js';

// A Kafka client library schedules timers with a negative delay on disconnect, and connectors may use
// experimental Node APIs (fs.glob): Node warns on stderr for each. Both are harmless and would
// drown the CLI's own output, so they are dropped; every other warning is printed.
process.removeAllListeners('warning');
process.on('warning', (warning) => {
  if (warning.name === 'TimeoutNegativeWarning' || warning.name === 'ExperimentalWarning') return;
  process.stderr.write(`${warning.name}: ${warning.message}\n`);
});

const code = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  environment: process.env,
});
process.exitCode = code;
// Client libraries may keep sockets or timers alive after a clean stop; the work is done.
setTimeout(() => process.exit(code), 200).unref();
