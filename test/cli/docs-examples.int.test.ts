import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { repositoryRoot, requireBuiltCli, tidemark } from './helpers.js';

describe('examples and generated docs', () => {
  beforeAll(requireBuiltCli);

  it('every examples/*.yaml validates (and the quickstart reaches Kafka)', async () => {
    const yamlIn = (folder: string) =>
      readdirSync(join(repositoryRoot, folder))
        .filter((name) => name.endsWith('.yaml'))
        .map((name) => `${folder}/${name}`);
    const files = [...yamlIn('examples'), ...yamlIn('examples/seed-orders')];
    expect(files).toContain('examples/quickstart.yaml');
    const result = await tidemark(['validate', ...files]);
    expect(result.code, result.stderr).toBe(0);
    for (const file of files) expect(result.stdout).toContain(`ok ${file}`);
    const connected = await tidemark(['validate', '--connect', 'examples/quickstart.yaml']);
    expect(connected.code, connected.stderr).toBe(0);
  });

  it('docs/configuration.md is what scripts/gen-config-docs.mjs generates', () => {
    const output = execFileSync(process.execPath, ['scripts/gen-config-docs.mjs', '--check'], {
      cwd: repositoryRoot,
      encoding: 'utf8',
    });
    expect(output).toContain('docs/configuration.md is current');
  });

  it('prints a JSON Schema with a variant per installed connector', async () => {
    const result = await tidemark(['schema']);
    expect(result.code, result.stderr).toBe(0);
    const schema = JSON.parse(result.stdout) as {
      properties: {
        pipelines: { items: { properties: { sources: { items: { oneOf: { title: string }[] } } } } };
      };
    };
    const titles = schema.properties.pipelines.items.properties.sources.items.oneOf.map(
      (variant) => variant.title,
    );
    expect(titles).toContain('source file');
  });
});
