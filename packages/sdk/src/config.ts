import { ConfigError, type ConfigIssue, type Connector } from '@tidemark/core';
import { z } from 'zod';

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
      const metadata = z.globalRegistry.get(context.zodSchema as unknown as z.ZodType) as
        | { secret?: unknown }
        | undefined;
      const json = context.jsonSchema as Record<string, unknown>;
      if (metadata?.secret === true || json.secret === true) {
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
 * listing every problem at once, each with its path, what is wrong and what is allowed. Input
 * values are never echoed, so secrets do not leak into messages.
 */
export function parseConnectorConfig<Schema extends z.ZodType>(
  connector: Pick<Connector, 'configSchema' | 'type' | 'packageName'> & { configSchema: Schema },
  raw: unknown,
  path: string,
): z.output<Schema> {
  const result = connector.configSchema.safeParse(raw ?? {});
  if (result.success) return result.data as z.output<Schema>;
  const issues: ConfigIssue[] = result.error.issues.flatMap((issue) =>
    describeIssue(connector.configSchema, issue, path),
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

/** `base` + zod path in YAML-style notation: `sources[0].brokers[2]`. */
export function joinConfigPath(base: string, segments: readonly PropertyKey[]): string {
  let result = base;
  for (const segment of segments) {
    if (typeof segment === 'number') result += `[${segment}]`;
    else result += result === '' ? String(segment) : `.${String(segment)}`;
  }
  return result;
}

function describeIssue(schema: z.ZodType, issue: z.core.$ZodIssue, base: string): ConfigIssue[] {
  const issuePath = issue.path;
  if (issue.code === 'unrecognized_keys') {
    const allowed = objectKeys(schemaAt(schema, issuePath));
    return issue.keys.map((key) => ({
      path: joinConfigPath(base, [...issuePath, key]),
      message: `unknown field '${key}'${allowed.length > 0 ? `; allowed fields: ${allowed.join(', ')}` : ''}`,
    }));
  }
  let description: string | undefined;
  for (let length = issuePath.length; length > 0 && description === undefined; length -= 1) {
    const field = schemaAt(schema, issuePath.slice(0, length));
    description = field ? describedAs(field) : undefined;
  }
  let message: string;
  switch (issue.code) {
    case 'invalid_type':
      message = isMissing(issue) ? `required ${issue.expected} is missing` : `expected ${issue.expected}`;
      break;
    case 'invalid_value':
      message = `must be one of ${issue.values.map((value) => JSON.stringify(value)).join(', ')}`;
      break;
    case 'too_small':
      message = `must be ${issue.inclusive === false ? 'more than' : 'at least'} ${String(issue.minimum)}${unitOf(issue.origin)}`;
      break;
    case 'too_big':
      message = `must be ${issue.inclusive === false ? 'less than' : 'at most'} ${String(issue.maximum)}${unitOf(issue.origin)}`;
      break;
    case 'invalid_format':
      message = `must be a valid ${issue.format}`;
      break;
    default:
      message = issue.message;
  }
  return [
    { path: joinConfigPath(base, issuePath), message: description ? `${message} (${description})` : message },
  ];
}

function isMissing(issue: z.core.$ZodIssueInvalidType): boolean {
  return issue.message.endsWith('received undefined');
}

function unitOf(origin: string): string {
  switch (origin) {
    case 'string':
      return ' characters';
    case 'array':
    case 'set':
      return ' items';
    default:
      return '';
  }
}

interface SchemaDefinition {
  type: string;
  innerType?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  in?: z.ZodType;
  valueType?: z.ZodType;
}

function definitionOf(schema: z.ZodType): SchemaDefinition {
  return (schema as unknown as { _zod: { def: SchemaDefinition } })._zod.def;
}

/** The innermost schema under optional/default/nullable/pipe wrappers. */
function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (let depth = 0; depth < 16; depth += 1) {
    const definition = definitionOf(current);
    const inner = definition.innerType ?? (definition.type === 'pipe' ? definition.in : undefined);
    if (!inner) return current;
    current = inner;
  }
  return current;
}

/** The schema of the field at `path`, or undefined when the path leaves the schema. */
function schemaAt(schema: z.ZodType, path: readonly PropertyKey[]): z.ZodType | undefined {
  let current: z.ZodType | undefined = schema;
  for (const segment of path) {
    if (!current) return undefined;
    const definition = definitionOf(unwrap(current));
    if (definition.type === 'object' && typeof segment === 'string') current = definition.shape?.[segment];
    else if (definition.type === 'array' && typeof segment === 'number') current = definition.element;
    else if (definition.type === 'record') current = definition.valueType;
    else return undefined;
  }
  return current;
}

function objectKeys(schema: z.ZodType | undefined): string[] {
  if (!schema) return [];
  const definition = definitionOf(unwrap(schema));
  return definition.type === 'object' && definition.shape ? Object.keys(definition.shape) : [];
}

/** The first description found on the field or the schemas it wraps. */
function describedAs(schema: z.ZodType): string | undefined {
  let current = schema;
  for (let depth = 0; depth < 16; depth += 1) {
    if (current.description) return current.description;
    const definition = definitionOf(current);
    const inner = definition.innerType ?? (definition.type === 'pipe' ? definition.in : undefined);
    if (!inner) return undefined;
    current = inner;
  }
  return undefined;
}
