#!/usr/bin/env node
// CPU cost of the windowing stages, no broker: `npx turbo run build --filter=@tidemark/core`,
// then `node scripts/bench/stages.mjs [--records 200000] [--repeat 3]`.
//
// Cases, each against a baseline measured in the same run, interleaved, median of --repeat:
//   expression     `price * quantity` compiled (exact decimal) vs plain JS arithmetic
//   tsort          t-sort within 2 s vs handing records through untouched
//   sliding-sum    t-sort + 1 h sliding SUM(price * quantity) per product vs t-sort alone
// Prints per case:
//   bench scenario=<name> records_per_s=<x> baseline=<peer> baseline_per_s=<y> ratio=<x/y>
import { parseArgs } from 'node:util';
import { compileExpression, evaluateDecimal, StageChain } from '@tidemark/core';

const { values } = parseArgs({
  options: { records: { type: 'string', default: '200000' }, repeat: { type: 'string', default: '3' } },
});
const count = Number(values.records);
const repeat = Number(values.repeat);

// Orders 10 ms apart, each up to 2 s late, over 50 products.
const start = 1_700_000_000_000;
const records = Array.from({ length: count }, (_, index) => {
  const rowtime = start + index * 10;
  return {
    arrival: rowtime + ((index * 7919) % 2_000),
    rowtime,
    fields: { product_id: index % 50, price: 1 + (index % 9_973) / 100, quantity: 1 + (index % 5) },
  };
}).sort((a, b) => a.arrival - b.arrival);
const entries = records.map((record, offset) => ({
  rowtime: record.rowtime,
  source: 'orders',
  position: { unit: 'orders/0', next: String(offset + 1) },
  item: record.fields,
}));

const tsortSpec = { tsort: { withinMs: 2_000, late: 'drop', maxHeld: 1_000_000 } };
const windowSpec = {
  ...tsortSpec,
  window: {
    kind: 'sliding',
    rangeMs: 3_600_000,
    partitionBy: ['product_id'],
    aggregates: { total: 'sum(price * quantity)' },
  },
};

function runChain(spec) {
  const chain = new StageChain(spec, (fields) => fields);
  let outputs = 0;
  for (const entry of entries) outputs += chain.push(entry).outputs.length;
  outputs += chain.flush().outputs.length;
  if (outputs !== count) throw new Error(`expected ${count} outputs, got ${outputs}`);
}

const compiled = compileExpression('price * quantity');
const cases = {
  expression: {
    run: () => {
      for (const record of records) evaluateDecimal(compiled, record.fields, 'price * quantity');
    },
    baseline: 'js-arithmetic',
    runBaseline: () => {
      let total = 0;
      for (const record of records) total += record.fields.price * record.fields.quantity;
      if (Number.isNaN(total)) throw new Error('unreachable');
    },
  },
  tsort: {
    run: () => runChain(tsortSpec),
    baseline: 'pass-through',
    runBaseline: () => {
      const out = [];
      for (const entry of entries) out.push(entry);
      if (out.length !== count) throw new Error('unreachable');
    },
  },
  'sliding-sum': {
    run: () => runChain(windowSpec),
    baseline: 'tsort',
    runBaseline: () => runChain(tsortSpec),
  },
};

const rate = (work) => {
  const started = process.hrtime.bigint();
  work();
  return count / (Number(process.hrtime.bigint() - started) / 1e9);
};
const median = (list) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];

for (const [name, bench] of Object.entries(cases)) {
  bench.run();
  bench.runBaseline();
  const measured = [];
  const baseline = [];
  for (let round = 0; round < repeat; round += 1) {
    measured.push(rate(bench.run));
    baseline.push(rate(bench.runBaseline));
  }
  const x = median(measured);
  const y = median(baseline);
  console.log(
    `bench scenario=${name} records_per_s=${Math.round(x)} baseline=${bench.baseline} baseline_per_s=${Math.round(y)} ratio=${(x / y).toFixed(3)} ns_per_record=${Math.round(1e9 / x)}`,
  );
}
