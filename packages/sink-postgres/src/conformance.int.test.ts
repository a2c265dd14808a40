import type { SinkRecord } from '@tidemark/sdk';
import { describeSinkConformance, type SinkConformanceOptions } from '@tidemark/sdk/testing';
import { CommitCutProxy, server, sql, uniqueName } from './int-test-helpers.js';
import { createPostgresSink } from './postgres-sink.js';

/** Not JSON, so the `value.id` column can never be filled from it. */
const NOT_JSON: SinkRecord = {
  key: null,
  value: Buffer.from('{not json'),
  headers: {},
  rowtime: 0,
  provenance: {},
  position: { unit: 'u', next: 0 },
};

const options: SinkConformanceOptions = {
  title: 'sink conformance: postgres',
  commitFaults: true,
  poisonRecord: NOT_JSON,
  async setup() {
    const table = uniqueName('conformance');
    const watermarkTable = `${table}_watermarks`;
    // `seq` orders rows by insertion, which within one pipeline is commit order.
    await sql(`CREATE TABLE ${table} (seq bigserial, id text NOT NULL, value jsonb NOT NULL)`);
    const proxies: CommitCutProxy[] = [];
    return {
      async createSink({ commitFault } = {}) {
        let port = server.port;
        if (commitFault) {
          // The instance talks through a proxy that breaks its first COMMIT: after the server
          // acted on it (landed) or before it arrives (lost).
          const proxy = new CommitCutProxy();
          proxies.push(proxy);
          port = await proxy.start();
          proxy.armCommit(commitFault === 'uncertain-committed' ? 'after' : 'before');
        }
        return createPostgresSink({
          ...server,
          port,
          table,
          watermarkTable,
          columns: { id: 'value.id', value: 'value' },
        });
      },
      async readCommittedValues() {
        const rows = await sql<{ value: unknown }>(`SELECT value FROM ${table} ORDER BY seq`);
        return rows.map((row) => JSON.stringify(row.value));
      },
      async cleanup() {
        for (const proxy of proxies) await proxy.close();
        await sql(`DROP TABLE IF EXISTS ${table}, ${table}_dead_letter, ${watermarkTable}`);
      },
    };
  },
};

describeSinkConformance(options);
