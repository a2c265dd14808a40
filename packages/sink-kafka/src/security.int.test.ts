import {
  localSecureListener,
  operatorVisibleText,
  SECURITY_FAILURES,
  type SecureOverrides,
  secureConnection,
} from '@tidemark/kafka';
import type { Logger } from '@tidemark/sdk';
import { describe, expect, it, onTestFinished } from 'vitest';
import { consumeCommitted, rejection, testRecord, uniqueName } from './int-test-helpers.js';
import type { KafkaClientFactory } from './kafka-client.js';
import { createKafkaSink } from './kafka-sink.js';
import { readWatermarks } from './watermark-store.js';

/** The client libraries the sink runs on; each runs the whole suite. */
const clients: { name: string; clientFactory?: KafkaClientFactory }[] = [{ name: 'kafkajs' }];

const secure = localSecureListener();
const connection = (overrides: SecureOverrides = {}) => ({
  ...secureConnection(secure, overrides),
  connectTimeoutMs: 15_000,
});

/** A logger that keeps every line it is given, as text. */
function recordingLogger(lines: string[]): Logger {
  const logger: Logger = {
    trace: (...args: unknown[]) => void lines.push(JSON.stringify(args)),
    debug: (...args: unknown[]) => void lines.push(JSON.stringify(args)),
    info: (...args: unknown[]) => void lines.push(JSON.stringify(args)),
    warn: (...args: unknown[]) => void lines.push(JSON.stringify(args)),
    error: (...args: unknown[]) => void lines.push(JSON.stringify(args)),
    child: () => logger,
  } as unknown as Logger;
  return logger;
}

describe.each(clients)('kafka sink through the TLS + SASL/SCRAM listener ($name)', ({ clientFactory }) => {
  const options = (lines: string[]) => ({
    logger: recordingLogger(lines),
    ...(clientFactory ? { clientFactory } : {}),
  });

  it('commits records and the watermark, read back through the same listener; no secret in the logs', async () => {
    const topic = uniqueName('sink-secure');
    const identity = { pipelineId: uniqueName('p') };
    const lines: string[] = [];
    const sink = createKafkaSink({ ...connection(), topic }, options(lines));
    onTestFinished(() => sink.close());
    await sink.open(identity);
    await sink.begin();
    await sink.write([testRecord('secure-1', 1), testRecord('secure-2', 2)]);
    await sink.commit({ watermarks: { files: { '/data/in.txt': 20 } }, rowtime: 2 });
    const read = await consumeCommitted([topic], (messages) => messages.length >= 2, 15_000);
    expect(read.map((message) => message.value)).toEqual(['secure-1', 'secure-2']);
    const state = await readWatermarks({ ...connection(), topic }, identity, options(lines));
    expect(state.watermarks).toEqual({ files: { '/data/in.txt': 20 } });
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join('\n')).not.toContain(secure.password);
  }, 40_000);

  it.each(SECURITY_FAILURES)(
    'open with $case fails with $code naming the fix, and shows no secret',
    async ({ overrides, code, fix }) => {
      const lines: string[] = [];
      const sink = createKafkaSink(
        { ...connection(overrides), topic: uniqueName('sink-refused') },
        options(lines),
      );
      onTestFinished(() => sink.close());
      const error = await rejection(sink.open({ pipelineId: uniqueName('p') }));
      expect(error.code).toBe(code);
      expect(error.retriable).toBe(false);
      expect(error.fix).toMatch(fix);
      const password = overrides.password ?? secure.password;
      expect(operatorVisibleText(error)).not.toContain(password);
      expect(lines.join('\n')).not.toContain(password);
    },
    40_000,
  );
});
