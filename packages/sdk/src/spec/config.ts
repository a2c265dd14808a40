/**
 * The one reader of a connector's zod config schema: parsing with messages that carry YAML
 * paths, JSON Schema for editors and docs, secret redaction (./redact.ts) and the walker they
 * share (./schema-walk.ts). The CLI's YAML loader uses the same functions.
 */
import { ConfigError, type ConfigIssue, type Connector } from '@tidemark/core';
import { z } from 'zod';
import { describeConfigIssues, joinConfigPath } from './issues.js';
import { isSecretSchema } from './schema-walk.js';

/** The JSON Schema (draft 2020-12) of a connector's configuration, as users write it. */
export type ConnectorJsonSchema = Record<string, unknown>;

/**
 * JSON Schema of a connector's configuration for editors, docs and `tidemark validate`.
 *
 * Describes the *input* (what users write: fields with defaults are optional). Fields marked
 * `.meta({ secret: true })` come out with `writeOnly: true` and `x-secret: true`, so tools know
 * to mask them. Pure: safe to call at any time.
 */
export function configJsonSchema(connector: Pick<Connector, 'configSchema'>): ConnectorJsonSchema {
  return z.toJSONSchema(connector.configSchema, {
    io: 'input',
    unrepresentable: 'any',
    override(context) {
      const json = context.jsonSchema as Record<string, unknown>;
      if (isSecretSchema(context.zodSchema as unknown as z.ZodType) || json.secret === true) {
        delete json.secret;
        json.writeOnly = true;
        json['x-secret'] = true;
      }
    },
  }) as ConnectorJsonSchema;
}

/**
 * Validates and defaults the raw configuration of one connector instance (a parsed YAML object)
 * against its schema and returns the typed config `create` takes.
 *
 * `path` is where the object sits in the user's file, e.g. `pipelines[0].sources[1]`: every
 * issue is reported below it. Throws a {@link ConfigError} (code CONFIG_INVALID, not retriable)
 * listing every problem at once, each with its path, what is wrong and what is allowed. Values
 * of secret fields are never echoed.
 */
export function parseConnectorConfig<Schema extends z.ZodType>(
  connector: Pick<Connector, 'configSchema' | 'type' | 'packageName'> & { configSchema: Schema },
  raw: unknown,
  path: string,
): z.output<Schema> {
  const result = connector.configSchema.safeParse(raw ?? {});
  if (result.success) return result.data as z.output<Schema>;
  const issues: ConfigIssue[] = describeConfigIssues(result.error, connector.configSchema, raw ?? {}).map(
    (issue) => ({ path: joinConfigPath(path, issue.path) || '(root)', message: issue.message }),
  );
  const lines = issues.map((issue) => `  - ${issue.path}: ${issue.message}`).join('\n');
  throw new ConfigError(
    `invalid configuration for ${connector.type} (${connector.packageName}) at ${path || '<root>'}:\n${lines}`,
    issues,
    {
      fix: `Correct each field listed above; the JSON Schema of ${connector.packageName} lists every allowed field with its description.`,
      details: { type: connector.type, packageName: connector.packageName },
    },
  );
}
