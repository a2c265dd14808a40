// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${NAME}` is the configuration's interpolation syntax, written on purpose.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  brokers,
  createTopics,
  idCounts,
  readCommitted,
  requireBuiltCli,
  STACK_LINE,
  tidemark,
  uniqueName,
} from './helpers.js';

const LINES = 200;
const isBadJson = (id: number) => id % 20 === 7;
const isNegative = (id: number) => id % 20 === 13;
const goodIds = Array.from({ length: LINES }, (_, id) => id).filter(
  (id) => !isBadJson(id) && !isNegative(id),
);

function pipelineYaml(name: string, topic: string, poison: string, extra: string[] = []): string[] {
  return [
    `  - name: ${name}`,
    '    sources:',
    '      - name: orders',
    '        type: file',
    '        directory: ${TIDEMARK_CONFIG_DIR}/data',
    '        format: jsonl',
    '        watch: false',
    '    transforms:',
    '      - module: ./check-amount.js',
    '    sink:',
    '      type: kafka',
    `      brokers: [${brokers.map((broker) => `'${broker}'`).join(', ')}]`,
    `      topic: ${topic}`,
    ...extra,
    `    poison: ${poison}`,
    '    commit:',
    '      maxRecords: 5',
  ];
}

describe('tidemark run: poison records per policy', () => {
  let directory: string;
  const skipTopic = uniqueName('cli-poison-skip');
  const mainTopic = uniqueName('cli-poison-main');
  const deadTopic = uniqueName('cli-poison-dead');
  const failTopic = uniqueName('cli-poison-fail');

  beforeAll(async () => {
    requireBuiltCli();
    await createTopics(skipTopic, mainTopic, deadTopic, failTopic);
    directory = mkdtempSync(join(tmpdir(), 'tidemark-cli-poison-'));
    mkdirSync(join(directory, 'data'));
    const lines = Array.from({ length: LINES }, (_, id) =>
      isBadJson(id)
        ? `{"id": ${id}, this is not json`
        : JSON.stringify({ id, amount: isNegative(id) ? -1 : id }),
    );
    writeFileSync(join(directory, 'data', 'orders.jsonl'), `${lines.join('\n')}\n`);
    writeFileSync(
      join(directory, 'check-amount.js'),
      [
        'export default function checkAmount(record) {',
        '  const order = JSON.parse(Buffer.from(record.value).toString("utf8"));',
        '  if (order.amount < 0) throw new Error(`negative amount in order ${order.id}`);',
        '  return { ...record, value: Buffer.from(JSON.stringify({ ...order, checked: true })) };',
        '}',
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(directory, 'tolerant.yaml'),
      [
        'pipelines:',
        ...pipelineYaml(uniqueName('skip'), skipTopic, 'skip'),
        ...pipelineYaml(uniqueName('dead-letter'), mainTopic, 'dead-letter', [
          `      deadLetterTopic: ${deadTopic}`,
        ]),
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(directory, 'strict.yaml'),
      ['pipelines:', ...pipelineYaml(uniqueName('fail'), failTopic, 'fail'), ''].join('\n'),
    );
  });

  afterAll(() => {
    rmSync(directory, { recursive: true, force: true });
  });

  it('skip and dead-letter: two pipelines in one process lose nothing and commit nothing twice', async () => {
    const result = await tidemark(['run', join(directory, 'tolerant.yaml'), '--until-idle']);
    expect(result.code, result.stderr).toBe(0);

    const skipped = idCounts(await readCommitted(skipTopic, (messages) => messages.length >= goodIds.length));
    expect([...skipped.keys()].sort((a, b) => a - b)).toEqual(goodIds);
    expect([...skipped.values()].every((count) => count === 1)).toBe(true);

    const main = await readCommitted(mainTopic, (messages) => messages.length >= goodIds.length);
    const mainCounts = idCounts(main);
    expect([...mainCounts.keys()].sort((a, b) => a - b)).toEqual(goodIds);
    expect([...mainCounts.values()].every((count) => count === 1)).toBe(true);
    expect(
      main.every((message) => (JSON.parse(message.value) as { checked?: boolean }).checked === true),
    ).toBe(true);

    const dead = await readCommitted(deadTopic, (messages) => messages.length >= LINES - goodIds.length);
    expect(dead).toHaveLength(LINES - goodIds.length);
    const errors = dead.map((message) => message.headers['tidemark.error'] ?? '');
    expect(errors.filter((error) => error.includes('negative amount'))).toHaveLength(LINES / 20);
    expect(new Set(dead.map((message) => message.value)).size).toBe(dead.length);
    expect(dead.every((message) => message.headers['tidemark.source'] === 'orders')).toBe(true);
  });

  it('fail: exits 1 with the record and the fix, keeps only whole transactions before it, twice', async () => {
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const result = await tidemark(['run', join(directory, 'strict.yaml'), '--until-idle']);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain("poison record from source 'orders'");
      expect(result.stderr).toContain(
        "fix: Fix the record or the transform. Or set the pipeline's poison policy",
      );
      expect(result.stderr).not.toMatch(STACK_LINE);
    }
    const committed = idCounts(await readCommitted(failTopic, (messages) => messages.length >= 5));
    // maxRecords 5: ids 0-4 commit; 5 and 6 share the aborted transaction with poison id 7.
    expect([...committed.keys()].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4]);
    expect([...committed.values()].every((count) => count === 1)).toBe(true);
  });
});
