import { createServer, type Server } from 'node:http';
import type { PipelineStatus } from '@tidemark/core';
import type { Registry } from 'prom-client';

export interface MonitoringServerOptions {
  readonly port: number;
  readonly host: string;
  readonly registry: Registry;
  /** Current status of every pipeline of the process. */
  readonly statuses: () => readonly PipelineStatus[];
}

/** True when every pipeline is in a state that moves data. */
export function healthy(statuses: readonly PipelineStatus[]): boolean {
  return statuses.length > 0 && statuses.every((status) => status.state === 'running');
}

/**
 * Starts the HTTP server for `/metrics` (Prometheus text format) and `/health` (200 when every
 * pipeline is running, 503 otherwise; the body is the JSON status of every pipeline). Resolves
 * once listening; rejects when the port cannot be bound.
 */
export async function startMonitoringServer(options: MonitoringServerOptions): Promise<Server> {
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      options.registry
        .metrics()
        .then((body) => {
          response.writeHead(200, { 'content-type': options.registry.contentType });
          response.end(body);
        })
        .catch((error: unknown) => {
          response.writeHead(500, { 'content-type': 'text/plain' });
          response.end(String(error));
        });
      return;
    }
    if (path === '/health') {
      const statuses = options.statuses();
      const ok = healthy(statuses);
      response.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ status: ok ? 'ok' : 'unavailable', pipelines: statuses }));
      return;
    }
    response.writeHead(404, { 'content-type': 'text/plain' });
    response.end('not found: try /metrics or /health\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
