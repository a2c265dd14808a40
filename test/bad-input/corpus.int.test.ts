import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pipeline, type PoisonPolicy } from '@tidemark/core';
import { createKafkaSink } from '@tidemark/sink-kafka';
import { createFileSource } from '@tidemark/source-file';
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brokers, createTopics, uniqueName } from '../cli/helpers.js';
import { CORPUS, type CorpusGroup, expectations, fileContent, MAX_LINE_BYTES } from './corpus.js';

const { Kafka, logLevel } = kafkajs;

interface Message {
  readonly topic: string;
  readonly value: Buffer;
  readonly headers: Record<string, string>;
}

/** Reads `topics` read_committed until `expected` messages arrived and none came for 1.5 s (duplicates show). */
async function readAll(topics: readonly string[], expected: number): Promise<Message[]> {
  const kafka = new Kafka({ clientId: 'bad-input-reader', brokers, logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({
    groupId: uniqueName('bad-input-reader'),
    readUncommitted: false,
    maxWaitTimeInMs: 200,
  });
  const messages: Message[] = [];
  const seen = new Set<string>();
  let lastArrival = Date.now();
  await consumer.connect();
  try {
    for (const topic of topics) await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ topic, partition, message }) => {
        const at = `${topic}/${partition}@${message.offset}`;
        if (seen.has(at)) return;
        seen.add(at);
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(message.headers ?? {})) headers[name] = String(value);
        messages.push({ topic, value: message.value ?? Buffer.alloc(0), headers });
        lastArrival = Date.now();
      },
    });
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && !(messages.length >= expected && Date.now() - lastArrival >= 1_500)) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await consumer.disconnect();
  }
  return messages;
}

const provenanceOf = (message: Message) =>
  JSON.parse(message.headers['tidemark.provenance'] ?? '{}') as {
    'file.path'?: string;
    'file.line'?: number;
  };

const fileOf = (group: CorpusGroup, caseId: string, root: string) => join(root, group.name, `${caseId}.txt`);

/** Writes every case file of `groups` under `root/<group>/`. */
function writeCorpus(root: string, groups: readonly CorpusGroup[]): void {
  for (const group of groups) {
    mkdirSync(join(root, group.name));
    for (const corpusCase of group.cases)
      writeFileSync(fileOf(group, corpusCase.id, root), fileContent(corpusCase));
  }
}

function pipelineFor(
  root: string,
  groups: readonly CorpusGroup[],
  policy: PoisonPolicy,
  topic: string,
  deadLetterTopic: string | undefined,
): Pipeline {
  return new Pipeline({
    id: uniqueName(`bad-input-${policy}`),
    sources: groups.map((group) =>
      createFileSource(
        { directory: join(root, group.name), watch: false, maxLineBytes: MAX_LINE_BYTES, ...group.config },
        group.name,
      ),
    ),
    sink: createKafkaSink({
      brokers,
      topic,
      ...(deadLetterTopic === undefined ? {} : { deadLetterTopic }),
      valueFormat: groups[0]!.sink,
      // The checks below find each record's file and line in the JSON provenance header.
      provenanceHeaders: 'json',
    }),
    poison: policy,
    commit: { maxRecords: 25 },
  });
}

const bySink = (sink: CorpusGroup['sink']) => CORPUS.filter((group) => group.sink === sink);
const allCases = CORPUS.flatMap((group) => group.cases.map((corpusCase) => ({ group, corpusCase })));

describe('bad-input corpus', () => {
  it(`has at least 60 cases (${allCases.length} files, each run under 3 policies)`, () => {
    expect(allCases.length).toBeGreaterThanOrEqual(60);
  });

  describe.each(['skip', 'dead-letter'] as const)('poison: %s', (policy) => {
    let root: string;
    const topic = uniqueName(`bad-input-${policy}-main`);
    const deadLetterTopic = policy === 'dead-letter' ? uniqueName('bad-input-dead') : undefined;
    let messages: Message[] = [];

    beforeAll(async () => {
      root = mkdtempSync(join(tmpdir(), 'tidemark-bad-input-'));
      writeCorpus(root, CORPUS);
      await createTopics(topic, ...(deadLetterTopic ? [deadLetterTopic] : []));
      for (const sink of ['string', 'bytes'] as const) {
        const result = await pipelineFor(root, bySink(sink), policy, topic, deadLetterTopic).run();
        expect(result.reason).toBe('ended');
      }
      const expected = allCases.reduce((sum, { corpusCase }) => {
        const { good, badLines } = expectations(corpusCase);
        return sum + good.length + (deadLetterTopic ? badLines.length : 0);
      }, 0);
      messages = await readAll([topic, ...(deadLetterTopic ? [deadLetterTopic] : [])], expected);
    });

    afterAll(() => rmSync(root, { recursive: true, force: true }));

    it.each(
      allCases.map(({ group, corpusCase }) => [`${group.name}/${corpusCase.id}`, group, corpusCase] as const),
    )('%s: every good record once, every bad one dead-lettered once', (_label, group, corpusCase) => {
      const path = fileOf(group, corpusCase.id, root);
      const { good, badLines } = expectations(corpusCase);
      const main = messages.filter(
        (message) => message.topic === topic && provenanceOf(message)['file.path'] === path,
      );
      expect(main.map((message) => message.value.toString('hex'))).toEqual(
        good.map((value) => value.toString('hex')),
      );
      const dead = messages.filter(
        (message) => message.topic === deadLetterTopic && provenanceOf(message)['file.path'] === path,
      );
      if (deadLetterTopic === undefined) return;
      expect(dead.map((message) => provenanceOf(message)['file.line'])).toEqual(badLines);
      for (const message of dead) {
        const error = message.headers['tidemark.error'] ?? '';
        expect(error).toContain(`source '${group.name}'`);
        expect(error).toContain(`file.path=${path}`);
        expect(error).toContain(`file.line=${provenanceOf(message)['file.line']}`);
        expect(message.headers['tidemark.source']).toBe(group.name);
      }
    });
  });

  describe('poison: fail', () => {
    let root: string;
    beforeAll(() => {
      root = mkdtempSync(join(tmpdir(), 'tidemark-bad-input-fail-'));
      writeCorpus(root, CORPUS);
    });
    afterAll(() => rmSync(root, { recursive: true, force: true }));

    it.each(CORPUS.map((group) => [group.name, group] as const))(
      '%s: stops at a bad record, naming its file and line and the fix',
      async (_name, group) => {
        const topic = uniqueName(`bad-input-fail-${group.name}`);
        await createTopics(topic);
        const error = (await pipelineFor(root, [group], 'fail', topic, undefined)
          .run()
          .then(
            () => undefined,
            (thrown: unknown) => thrown,
          )) as { code?: string; message: string; fix?: string } | undefined;
        expect(error?.code).toBe('POISON_RECORD');
        expect(error?.fix).toMatch(/Or set the pipeline's poison policy to 'dead-letter' or 'skip'/);
        const path = /"file\.path":"([^"]+)"/.exec(error!.message)?.[1];
        const line = Number(/"file\.line":(\d+)/.exec(error!.message)?.[1]);
        const corpusCase = group.cases.find((candidate) => fileOf(group, candidate.id, root) === path);
        expect(corpusCase, `the error names a corpus file: ${error!.message}`).toBeDefined();
        expect(expectations(corpusCase!).badLines).toContain(line);
      },
    );
  });
});
