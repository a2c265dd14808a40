import { configJsonSchema } from '@tidemark/sdk';
import type { z } from 'zod';
import { configFileSchema } from '../config/schema.js';
import { discoverConnectors } from '../connectors/discover.js';

type JsonSchema = Record<string, unknown>;

function connectorVariant(
  kind: 'source' | 'sink',
  type: string,
  packageName: string,
  schema: z.ZodType,
): JsonSchema {
  const options = { ...configJsonSchema({ configSchema: schema }) } as JsonSchema;
  delete options.$schema;
  const properties = { ...((options.properties as JsonSchema | undefined) ?? {}) };
  const required = [...((options.required as string[] | undefined) ?? [])];
  const head: JsonSchema = { type: { const: type, description: `${packageName}` } };
  if (kind === 'source') {
    head.name = {
      type: 'string',
      description: 'Source name, unique within the pipeline: it keys the source watermark.',
    };
    required.unshift('name');
  }
  required.unshift('type');
  return {
    ...options,
    title: `${kind} ${type}`,
    properties: { ...head, ...properties },
    required: [...new Set(required)],
    additionalProperties: options.additionalProperties ?? false,
  };
}

/**
 * The JSON Schema of a whole configuration file: the pipeline schema with the `sources` items
 * and `sink` replaced by one variant per installed connector (from its zod schema).
 */
export async function buildFileJsonSchema(baseDirectory: string): Promise<JsonSchema> {
  const document = configJsonSchema({ configSchema: configFileSchema }) as JsonSchema;
  const installed = await discoverConnectors(baseDirectory);
  const variants = (kind: 'source' | 'sink') =>
    installed
      .filter((item) => item.kind === kind && item.connector)
      .map((item) =>
        connectorVariant(
          kind,
          item.connector!.type,
          item.connector!.packageName,
          item.connector!.configSchema as z.ZodType,
        ),
      );
  const pipeline = ((document.properties as JsonSchema).pipelines as JsonSchema).items as JsonSchema;
  const properties = pipeline.properties as JsonSchema;
  const sources = variants('source');
  const sinks = variants('sink');
  const sourcesSchema = properties.sources as JsonSchema;
  if (sources.length > 0) sourcesSchema.items = { oneOf: sources };
  if (sinks.length > 0)
    properties.sink = { description: (properties.sink as JsonSchema).description, oneOf: sinks };
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://tidemark.dev/schema/config.json',
    title: 'Tidemark configuration',
    ...document,
  };
}
