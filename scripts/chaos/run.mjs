#!/usr/bin/env node
// The exactly-once proof. Runs a pipeline as a child process, feeds its source while it runs,
// SIGKILLs it at random moments, restarts it, then reads the sink topic with a read_committed
// consumer and checks that every source record appears exactly once, in source order.
//
//   npm run chaos                                   all scenarios, 50 kills each
//   npm run chaos -- --scenario file-kafka --kills 5 [--seed 42]
//
// Last line per scenario: chaos scenario=<name> kills=<K> records=<N> duplicates=<D> lost=<L>
// Exits non-zero on any duplicate, loss or order violation.
import { parseArgs } from 'node:util';
import { SCENARIOS } from './scenarios.mjs';

const { values } = parseArgs({
  options: {
    scenario: { type: 'string' },
    kills: { type: 'string' },
    seed: { type: 'string' },
  },
});

const names = values.scenario ? values.scenario.split(',') : Object.keys(SCENARIOS);
const kills = values.kills ? Number(values.kills) : 50;
const seed = values.seed ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
for (const name of names) {
  if (!SCENARIOS[name]) {
    console.error(`unknown scenario '${name}'; known: ${Object.keys(SCENARIOS).join(', ')}`);
    process.exit(2);
  }
}
if (!Number.isInteger(kills) || kills < 0) {
  console.error(`--kills must be a whole number, got '${values.kills}'`);
  process.exit(2);
}

console.log(`chaos: seed=${seed} (repeat a run with --seed ${seed})`);
let failed = false;
const lines = [];
for (const name of names) {
  const started = Date.now();
  let result;
  try {
    result = await SCENARIOS[name]({ kills, seed, log: (message) => console.log(`[${name}] ${message}`) });
  } catch (error) {
    console.error(`[${name}] harness error: ${error?.stack ?? error}`);
    result = {
      kills: 0,
      records: 0,
      duplicates: 0,
      lost: 0,
      disorder: 0,
      error: String(error?.message ?? error),
    };
  }
  const ok =
    !result.error &&
    result.duplicates === 0 &&
    result.lost === 0 &&
    result.disorder === 0 &&
    result.records > 0;
  if (!ok) failed = true;
  console.log(
    `[${name}] ${ok ? 'PASS' : 'FAIL'} in ${((Date.now() - started) / 1000).toFixed(1)} s` +
      (result.disorder ? `, ${result.disorder} records out of source order` : '') +
      (result.error ? `, ${result.error}` : '') +
      (result.notes ? `; ${result.notes}` : ''),
  );
  lines.push(
    `chaos scenario=${name} kills=${result.kills} records=${result.records} duplicates=${result.duplicates} lost=${result.lost}`,
  );
  // Each scenario's summary line; the last one printed is the last line of the run.
  console.log(lines.at(-1));
}
process.exit(failed ? 1 : 0);
