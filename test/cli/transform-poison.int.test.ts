import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brokers, createTopics, readCommitted, requireBuiltCli, tidemark, uniqueName } from './helpers.js';

// A transform that misbehaves by id: undefined, a string, a bare { value } object, or a throw of a non-Error.
const TRANSFORM = `export default function shape(record) {
  const { id } = JSON.parse(Buffer.from(record.value).toString('utf8'));
  if (id % 5 === 1) return undefined;
  if (id % 5 === 2) return 'not a record';
  if (id % 5 === 3) return { value: record.value };
  if (id % 5 === 4) throw { reason: 'a plain object' };
  return record;
}
`;

describe('tidemark run: a misbehaving transform makes records poison, not retries', () => {
  let directory: string;
  const topic = uniqueName('cli-transform-main');
  const deadLetterTopic = uniqueName('cli-transform-dead');

  beforeAll(async () => {
    requireBuiltCli();
    await createTopics(topic, deadLetterTopic);
    directory = mkdtempSync(join(tmpdir(), 'tidemark-cli-transform-'));
    mkdirSync(join(directory, 'data'));
    writeFileSync(join(directory, 'shape.mjs'), TRANSFORM);
    const lines = Array.from({ length: 20 }, (_, id) => JSON.stringify({ id, ts: 1_767_600_000_000 + id }));
    writeFileSync(join(directory, 'data', 'orders.jsonl'), `${lines.join('\n')}\n`);
    const source = `{ name: orders, type: file, directory: '${join(directory, 'data')}', format: jsonl, watch: false }`;
    const sink = `{ type: kafka, brokers: [${brokers.map((broker) => `'${broker}'`).join(', ')}], topic: ${topic}, deadLetterTopic: ${deadLetterTopic}, valueFormat: json }`;
    writeFileSync(
      join(directory, 'pipeline.yaml'),
      `pipelines:\n  - { name: ${uniqueName('transform')}, sources: [${source}], transforms: [{ module: ./shape.mjs }], sink: ${sink}, poison: dead-letter }\n`,
    );
  });

  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  it('dead-letters every wrong output once, naming the transform and what it returned', async () => {
    const result = await tidemark(['run', join(directory, 'pipeline.yaml'), '--until-idle']);
    expect(result.code, result.stderr).toBe(0);
    const main = await readCommitted(topic, (messages) => messages.length >= 4);
    expect(main.map((message) => JSON.parse(message.value).id).sort((a, b) => a - b)).toEqual([0, 5, 10, 15]);
    const dead = await readCommitted(deadLetterTopic, (messages) => messages.length >= 16);
    expect(dead).toHaveLength(16);
    const errors = dead.map((message) => message.headers['tidemark.error'] ?? '');
    expect(errors.every((error) => error.includes('transform ./shape.mjs#default'))).toBe(true);
    expect(errors.filter((error) => error.includes('returned undefined'))).toHaveLength(4);
    expect(errors.filter((error) => error.includes('returned the string "not a record"'))).toHaveLength(4);
    expect(errors.filter((error) => error.includes('which has a key that is undefined'))).toHaveLength(4);
    expect(errors.filter((error) => error.includes('threw an object with keys reason'))).toHaveLength(4);
  });
});
