#!/usr/bin/env node
/**
 * Runs the append-only log server as a process (for demos and the chaos harness):
 *
 *   node dist/demo-server.js [--port 0] [--host 127.0.0.1] [--data log.jsonl]
 *
 * Prints one JSON line on stdout once listening — `{"url": ..., "appendUrl": ..., "pid": ...}`
 * — and stops on SIGTERM or SIGINT. Append with `POST <appendUrl>` and a body of
 * `{ "items": [{ "id": "a-1", ... }] }`; read with `GET <url>?after=<cursor>&limit=<n>`.
 */
import { parseArgs } from 'node:util';
import { startLogServer } from './log-server.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    data: { type: 'string' },
  },
});

const server = await startLogServer({
  port: Number(values.port),
  host: values.host,
  ...(values.data ? { dataFile: values.data } : {}),
});
process.stdout.write(
  `${JSON.stringify({ url: server.url, appendUrl: server.appendUrl, pid: process.pid })}\n`,
);

const stop = () => {
  server.close().then(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
