/**
 * In-memory sources for testing the conformance kit itself: a seekable two-unit log and a
 * redelivering queue, each with switchable bugs the kit must catch. Not exported.
 */
import {
  type ReadOptions,
  type Source,
  type SourceBatch,
  sleep,
  type TidemarkRecord,
  type Watermark,
} from '@tidemark/core';
import { z } from 'zod';
import { defineSource } from '../define.js';

export type LogBug =
  | 'seek-off-by-one'
  | 'missing-provenance'
  | 'leak-timer'
  | 'open-ignores-watermark'
  | 'position-stands-still'
  | 'extra-provenance';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A log of two units, 'a' and 'b'; ids alternate between them. */
export class MemoryLog {
  readonly units: Record<string, string[]> = { a: [], b: [] };
  #next = 0;

  append(count: number): string[] {
    const ids: string[] = [];
    for (let index = 0; index < count; index += 1) {
      const id = `record-${this.#next}`;
      this.units[this.#next % 2 === 0 ? 'a' : 'b']!.push(id);
      this.#next += 1;
      ids.push(id);
    }
    return ids;
  }
}

const logConfig = z.object({
  log: z.string().describe('Name of the in-memory log.'),
  bug: z.string().optional().describe('Bug to switch on.'),
});

export function memoryLogConnector(logs: Map<string, MemoryLog>) {
  return defineSource({
    type: 'memory-log',
    packageName: '@tidemark/sdk-test-memory-log',
    version: '0.0.0',
    description: 'In-memory two-unit log (tests of the conformance kit).',
    configSchema: logConfig,
    capabilities: { replay: 'seek', exactlyOnce: true, bounded: false },
    provenance: [
      { name: 'memory.unit', type: 'string', description: 'Unit the record came from.' },
      { name: 'memory.index', type: 'integer', description: 'Index of the record in its unit.' },
    ],
    create(config, context): Source {
      const log = logs.get(config.log);
      if (!log) throw new Error(`no log ${config.log}`);
      const bug = config.bug as LogBug | undefined;
      const cursor: Record<string, number> = { a: 0, b: 0 };
      let timer: NodeJS.Timeout | undefined;
      let open = false;
      const position = (watermark: Watermark | null) => {
        for (const unit of ['a', 'b']) {
          const next = watermark?.[unit];
          cursor[unit] = typeof next === 'number' ? next : 0;
          if (bug === 'seek-off-by-one' && typeof next === 'number' && next > 0) cursor[unit] = next - 1;
        }
      };
      return {
        name: context.name,
        provenance: this.provenance,
        capabilities: this.capabilities,
        async open(watermark) {
          open = true;
          position(bug === 'open-ignores-watermark' ? null : watermark);
          if (bug === 'leak-timer') timer = setInterval(() => {}, 1_000);
        },
        async read(options: ReadOptions): Promise<SourceBatch> {
          if (!open) throw new Error('not open');
          const records: TidemarkRecord[] = [];
          for (let pass = 0; pass < 2; pass += 1) {
            while (records.length < options.maxRecords) {
              let progressed = false;
              for (const unit of ['a', 'b']) {
                const index = cursor[unit]!;
                const id = log.units[unit]![index];
                if (id === undefined || records.length >= options.maxRecords) continue;
                cursor[unit] = index + 1;
                progressed = true;
                const provenance: Record<string, string | number> = {
                  'memory.unit': unit,
                  'memory.index': index,
                };
                if (bug === 'missing-provenance' && index === 3) delete provenance['memory.index'];
                if (bug === 'extra-provenance') provenance['memory.extra'] = 1;
                records.push({
                  key: null,
                  value: encoder.encode(id),
                  headers: {},
                  rowtime: 1_700_000_000_000 + index,
                  provenance,
                  position: {
                    unit,
                    next: bug === 'position-stands-still' && index === 2 ? index : index + 1,
                  },
                });
              }
              if (!progressed) break;
            }
            if (records.length > 0 || pass === 1) break;
            await sleep(options.maxWaitMs, options.signal);
          }
          return { records };
        },
        async seek(watermark) {
          position(watermark);
        },
        async acknowledge() {},
        async close() {
          open = false;
          if (bug !== 'leak-timer') clearInterval(timer);
        },
      };
    },
  });
}

/** A broker queue with per-consumer in-flight messages, like an AMQP classic queue. */
export class MemoryQueue {
  ready: { seq: number; id: string }[] = [];
  #next = 1;

  append(count: number): string[] {
    const ids: string[] = [];
    for (let index = 0; index < count; index += 1) {
      const seq = this.#next;
      this.#next += 1;
      this.ready.push({ seq, id: `message-${seq}` });
      ids.push(`message-${seq}`);
    }
    return ids;
  }

  /** Puts unacknowledged messages back at the head, in order. */
  release(messages: { seq: number; id: string }[]): void {
    this.ready = [...messages, ...this.ready].sort((left, right) => left.seq - right.seq);
  }
}

export type QueueBug = 'ack-on-read' | 'no-skip-committed';

export function memoryQueueConnector(queues: Map<string, MemoryQueue>) {
  return defineSource({
    type: 'memory-queue',
    packageName: '@tidemark/sdk-test-memory-queue',
    version: '0.0.0',
    description: 'In-memory redelivering queue (tests of the conformance kit).',
    configSchema: logConfig,
    capabilities: { replay: 'redeliver', exactlyOnce: true, bounded: false },
    provenance: [{ name: 'memory.seq', type: 'bigint', description: 'Broker sequence number.' }],
    create(config, context): Source {
      const queue = queues.get(config.log);
      if (!queue) throw new Error(`no queue ${config.log}`);
      const bug = config.bug as QueueBug | undefined;
      let inflight: { seq: number; id: string }[] = [];
      let committed = 0;
      const releaseAll = () => {
        queue.release(inflight);
        inflight = [];
      };
      return {
        name: context.name,
        provenance: this.provenance,
        capabilities: this.capabilities,
        async open(watermark) {
          committed = typeof watermark?.queue === 'number' ? watermark.queue : 0;
        },
        async read(options) {
          const records: TidemarkRecord[] = [];
          for (let pass = 0; pass < 2 && records.length === 0; pass += 1) {
            if (pass === 1) await sleep(options.maxWaitMs, options.signal);
            while (records.length < options.maxRecords && queue.ready.length > 0) {
              const message = queue.ready.shift()!;
              if (message.seq <= committed && bug !== 'no-skip-committed') continue;
              if (bug !== 'ack-on-read') inflight.push(message);
              records.push({
                key: null,
                value: encoder.encode(message.id),
                headers: {},
                rowtime: 1_700_000_000_000,
                provenance: { 'memory.seq': String(message.seq) },
                position: { unit: 'queue', next: message.seq },
              });
            }
          }
          return { records };
        },
        async seek(watermark) {
          committed = typeof watermark?.queue === 'number' ? watermark.queue : 0;
          releaseAll();
        },
        async acknowledge(watermark) {
          const upTo = typeof watermark.queue === 'number' ? watermark.queue : 0;
          committed = Math.max(committed, upTo);
          inflight = inflight.filter((message) => message.seq > upTo);
        },
        async close() {
          releaseAll();
        },
      };
    },
  });
}

export function idOfMemoryRecord(record: TidemarkRecord): string {
  return decoder.decode(record.value!);
}
