#!/usr/bin/env node
// Runs the stages of pipeline.yaml (tsort + window) over JSON-line orders from stdin, from code,
// and prints the output rows as JSON lines: what `tidemark run` writes for the same orders. Input
// lines are what `generate-orders.mjs --out -` prints: {"timestamp": <ms>, "key": …, "value": {…}};
// the timestamp plays the Kafka timestamp (the rowtime), the line number the offset.
//
//   npx turbo run build --filter=@tidemark/core
//   node examples/seed-orders/generate-orders.mjs --count 1000 --out - | node examples/seed-orders/preview.mjs
//
// `previewRows` is the crash-free reference of the orders-window chaos scenario.
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { StageChain, stagesSpecOf, tsortConfigSchema, windowConfigSchema } from '@tidemark/core';
import { parse } from 'yaml';

/** The stages spec of pipeline.yaml. */
export function seedOrdersSpec() {
  const pipeline = parse(readFileSync(new URL('./pipeline.yaml', import.meta.url), 'utf8')).pipelines[0];
  return stagesSpecOf({
    tsort: tsortConfigSchema.parse(pipeline.tsort),
    window: windowConfigSchema.parse(pipeline.window),
  });
}

/**
 * The output rows for `orders` (in send order) as `{ rowtime, key, value }`, and the late ones.
 * `flush: false` leaves out what an unbounded pipeline still holds (the last `within` of rowtime).
 */
export function previewRows(orders, { flush = true } = {}) {
  const chain = new StageChain(seedOrdersSpec(), (line) => line.value);
  const rows = [];
  const late = [];
  const collect = (step) => {
    for (const output of step.outputs) {
      rows.push({
        rowtime: output.rowtime,
        key: output.item.key,
        value: { ...output.item.value, ...output.values },
      });
    }
    for (const entry of step.late) late.push(entry.item);
  };
  orders.forEach((line, index) => {
    collect(
      chain.push({
        rowtime: line.timestamp,
        source: 'orders',
        position: { unit: 'orders/0', next: index + 1 },
        item: line,
      }),
    );
  });
  if (flush) collect(chain.flush());
  return { rows, late };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const orders = [];
  for await (const text of createInterface({ input: process.stdin })) {
    if (text.trim() !== '') orders.push(JSON.parse(text));
  }
  const { rows, late } = previewRows(orders);
  for (const row of rows) process.stdout.write(`${JSON.stringify(row)}\n`);
  for (const item of late) process.stderr.write(`late (dead-letter): ${JSON.stringify(item)}\n`);
  process.stderr.write(`read ${orders.length} orders, wrote ${rows.length} rows, late ${late.length}\n`);
}
