// Chaos scenario orders-window: the seed-orders example (examples/seed-orders/pipeline.yaml),
// run by the real `tidemark run`: Kafka orders out of order within the 2 s t-sort bound →
// t-sort → one-hour sliding SUM(price × quantity) per product → Kafka, SIGKILLed at random while
// the orders are produced. The read_committed output must equal, record by record, what the same
// stages compute over the same orders without any crash (examples/seed-orders/preview.mjs): same
// keys, same sums, same order per key. Every restart rebuilds the window by a warm-up replay from
// the committed rowtime − 1 h.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { generateOrders } from '../../../examples/seed-orders/generate-orders.mjs';
import { previewRows } from '../../../examples/seed-orders/preview.mjs';
import {
  brokers,
  CommittedReader,
  createTopic,
  kafka,
  killLoop,
  PipelineProcess,
  random,
  sleep,
  uniqueName,
} from '../harness.mjs';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = path.join(ROOT, 'packages/cli/dist/bin.js');
const EXAMPLE = path.join(ROOT, 'examples/seed-orders/pipeline.yaml');
/** About 3.3 hours of event time (mean gap 1.5 s), so the one-hour window slides a lot. */
const ORDERS = 8_000;
const INTERVAL_MS = 1_500;
const PRODUCTS = 20;

/** Produces the orders in send order, in chunks, while the pipeline runs. */
async function produce(orders, topic, rng, state) {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    while (state.sent < orders.length) {
      const chunk = orders.slice(state.sent, state.sent + rng.between(50, 400));
      await producer.send({
        topic,
        acks: -1,
        messages: chunk.map((order) => ({
          key: order.key,
          value: JSON.stringify(order.value),
          timestamp: String(order.timestamp),
        })),
      });
      state.sent += chunk.length;
      await sleep(rng.between(20, 120));
    }
  } finally {
    await producer.disconnect();
  }
}

/**
 * Compares the committed rows with the reference per key (the product): `lost` reference rows
 * never committed, `duplicates` committed rows beyond the reference, `disorder` rows at the
 * wrong place in their key's sequence or with another value (a wrong sum).
 */
export function compareByKey(reference, committed) {
  const byKey = (rows) => {
    const map = new Map();
    for (const row of rows) {
      const key = String(row.product_id);
      if (!map.has(key)) map.set(key, []);
      map.get(key).push(row);
    }
    return map;
  };
  const expected = byKey(reference);
  const actual = byKey(committed);
  let lost = 0;
  let duplicates = 0;
  let disorder = 0;
  let firstMismatch;
  for (const key of new Set([...expected.keys(), ...actual.keys()])) {
    const want = expected.get(key) ?? [];
    const got = actual.get(key) ?? [];
    const wantIds = new Set(want.map((row) => row.order_id));
    const counts = new Map();
    for (const row of got) counts.set(row.order_id, (counts.get(row.order_id) ?? 0) + 1);
    for (const id of wantIds) if (!counts.has(id)) lost += 1;
    for (const [id, count] of counts) duplicates += wantIds.has(id) ? count - 1 : count;
    for (let index = 0; index < Math.min(want.length, got.length); index += 1) {
      if (JSON.stringify(want[index]) !== JSON.stringify(got[index])) {
        disorder += 1;
        firstMismatch ??= { key, index, expected: want[index], committed: got[index] };
      }
    }
  }
  return { lost, duplicates, disorder, firstMismatch };
}

export async function ordersWindow({ kills, seed, log }) {
  const rng = random(seed);
  const inputTopic = uniqueName('chaos-orders-in');
  const outputTopic = uniqueName('chaos-orders-out');
  await createTopic(inputTopic, 1);
  await createTopic(outputTopic, 1);
  await createTopic(`${outputTopic}.late`, 1);
  const orders = generateOrders({
    count: ORDERS,
    products: PRODUCTS,
    interval: INTERVAL_MS,
    disorder: 2_000,
    start: Date.now() - ORDERS * INTERVAL_MS,
    seed,
  });
  // An unbounded pipeline holds the last 2 s of rowtime: the reference leaves them out too.
  const reference = previewRows(orders, { flush: false }).rows.map((row) => row.value);

  // The example file as it is, with a pipeline name of its own (its watermark key) and faster
  // commits, so a kill often lands inside a transaction.
  const config = parse(fs.readFileSync(EXAMPLE, 'utf8'));
  config.pipelines[0].name = uniqueName('chaos-orders');
  config.pipelines[0].commit = { ...config.pipelines[0].commit, interval: '300ms' };
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'tidemark-chaos-orders-'));
  const file = path.join(directory, 'pipeline.yaml');
  fs.writeFileSync(file, stringify(config));
  const env = {
    TIDEMARK_KAFKA_BROKERS: brokers.join(','),
    SEED_ORDERS_INPUT: inputTopic,
    SEED_ORDERS_OUTPUT: outputTopic,
  };

  const reader = new CommittedReader(outputTopic);
  await reader.start();
  // Every order is within the bound: nothing may reach the dead-letter topic of late records.
  const lateReader = new CommittedReader(`${outputTopic}.late`);
  await lateReader.start();
  const state = { sent: 0 };
  const producing = produce(orders, inputTopic, rng, state);
  let current;
  try {
    current = await killLoop({
      kills,
      rng,
      log,
      minMs: 1_500,
      maxMs: 5_000,
      spawnPipeline: () => new PipelineProcess(null, log, { args: [CLI, 'run', file, '--no-lease'], env }),
    });
  } finally {
    await producing;
  }
  log(`orders sent: ${orders.length}; waiting for ${reference.length} rows`);
  const deadline = Date.now() + 120_000;
  let lastReport = 0;
  while (
    Date.now() < deadline &&
    new Set(reader.records.map((row) => row.order_id)).size < reference.length
  ) {
    if (!current.alive)
      throw new Error(`pipeline exited with ${await current.exited}:\n${current.stderrTail.join('\n')}`);
    if (Date.now() - lastReport > 5_000) {
      lastReport = Date.now();
      log(
        `verifier: ${new Set(reader.records.map((row) => row.order_id)).size}/${reference.length} rows committed`,
      );
    }
    await sleep(250);
  }
  const code = await current.stop();
  if (code !== 0 && code !== 'SIGTERM')
    log(`last pipeline exited with ${code}: ${current.stderrTail.slice(-5).join(' | ')}`);
  await sleep(1_500);
  await reader.stop();
  await lateReader.stop();
  fs.rmSync(directory, { recursive: true, force: true });
  const { lost, duplicates, disorder, firstMismatch } = compareByKey(reference, reader.records);
  if (firstMismatch) log(`first mismatch: ${JSON.stringify(firstMismatch)}`);
  return {
    kills,
    records: reference.length,
    duplicates,
    lost,
    disorder: disorder + lateReader.records.length,
    notes: `orders=${orders.length} products=${PRODUCTS} late=${lateReader.records.length}`,
  };
}
