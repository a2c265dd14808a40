import type { SourceConnector } from '@tidemark/sdk';
import { discoverConnectors } from '../connectors/discover.js';

/** `tidemark plugins`: installed connectors with versions, capabilities and provenance columns. */
export async function listPlugins(baseDirectory: string, json: boolean): Promise<string> {
  const installed = await discoverConnectors(baseDirectory);
  if (json) {
    return JSON.stringify(
      installed.map((item) =>
        item.connector
          ? {
              kind: item.kind,
              type: item.connector.type,
              package: item.connector.packageName,
              version: item.connector.version,
              description: item.connector.description,
              capabilities: item.connector.capabilities,
              provenance:
                item.connector.kind === 'source' ? (item.connector as SourceConnector).provenance : undefined,
            }
          : { kind: item.kind, package: item.packageName, error: item.error },
      ),
      null,
      2,
    );
  }
  if (installed.length === 0)
    return 'no Tidemark connectors installed (npm install @tidemark/source-file @tidemark/sink-kafka)';
  const blocks: string[] = [];
  for (const item of installed) {
    if (!item.connector) {
      blocks.push(
        / is planned but not implemented yet/.test(String(item.error))
          ? `${item.kind} ${item.packageName}: planned, not implemented yet`
          : `${item.kind} ${item.packageName}: failed to load: ${item.error}`,
      );
      continue;
    }
    const connector = item.connector;
    const capabilities = Object.entries(connector.capabilities)
      .map(([key, value]) => `${key}=${String(value)}`)
      .join(' ');
    const lines = [
      `${connector.kind} ${connector.type}  ${connector.packageName}@${connector.version}`,
      `  ${connector.description}`,
      `  capabilities: ${capabilities}`,
    ];
    if (connector.kind === 'source') {
      const columns = (connector as SourceConnector).provenance.map(
        (column) => `${column.name} (${column.type})`,
      );
      lines.push(`  provenance: ${columns.join(', ')}`);
    }
    blocks.push(lines.join('\n'));
  }
  return blocks.join('\n\n');
}
