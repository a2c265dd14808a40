import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JsonValue, TidemarkRecord } from '@tidemark/sdk';
import { describeSourceConformance } from '@tidemark/sdk/testing';
import fileSource from './index.js';

let directory = '';
let produced = 0;

function order(position: JsonValue): [number, number] {
  const { generation, offset } = position as { generation: number; offset: number };
  return [generation, offset];
}

describeSourceConformance({
  connector: fileSource,
  setup: () => {
    directory = mkdtempSync(join(tmpdir(), 'tidemark-file-conformance-'));
    produced = 0;
  },
  cleanup: () => rmSync(directory, { recursive: true, force: true }),
  config: () => ({ directory, pattern: '*.jsonl', format: 'jsonl', key: 'id', pollIntervalMs: 50 }),
  produce: async (count) => {
    const ids = Array.from({ length: count }, () => `id-${++produced}`);
    appendFileSync(join(directory, 'events.jsonl'), ids.map((id) => `${JSON.stringify({ id })}\n`).join(''));
    return ids;
  },
  idOf: (record: TidemarkRecord) => Buffer.from(record.key ?? new Uint8Array()).toString('utf8'),
  badConfig: { directory: 42, format: 'xml' },
  comparePositions: (a, b) => {
    const [generationA, offsetA] = order(a);
    const [generationB, offsetB] = order(b);
    return generationA - generationB || offsetA - offsetB;
  },
});
