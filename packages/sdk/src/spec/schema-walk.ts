/**
 * The one walker over zod schema internals: every other reader of a connector's config schema
 * (issue messages, secret redaction, allowed keys) goes through these functions, so wrapper
 * types are unwrapped the same way everywhere.
 */
import { z } from 'zod';

/** A path inside a configuration: object keys and list indexes. */
export type ConfigPath = readonly (string | number)[];

type AnySchema = z.ZodType & { _zod: { def: Record<string, unknown> & { type: string } } };

const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch', 'nonoptional']);

function definitionOf(schema: z.ZodType): AnySchema['_zod']['def'] {
  return (schema as AnySchema)._zod.def;
}

/** The schema a wrapper (optional, default, pipe's input, lazy…) wraps, or undefined for none. */
function innerOf(schema: z.ZodType): z.ZodType | undefined {
  const definition = definitionOf(schema);
  if (WRAPPERS.has(definition.type)) return definition.innerType as z.ZodType;
  if (definition.type === 'pipe') return definition.in as z.ZodType;
  if (definition.type === 'lazy') return (definition.getter as () => z.ZodType)();
  return undefined;
}

/** `schema` and every schema it wraps, outermost first. */
export function wrappedForms(schema: z.ZodType): z.ZodType[] {
  const forms: z.ZodType[] = [];
  let current: z.ZodType | undefined = schema;
  for (let depth = 0; current && depth < 20; depth += 1) {
    forms.push(current);
    current = innerOf(current);
  }
  return forms;
}

/** The innermost schema under wrappers. */
export function unwrapSchema(schema: z.ZodType): z.ZodType {
  return wrappedForms(schema).at(-1) ?? schema;
}

/** The zod type name of a schema (`object`, `array`, `union`…). */
export function schemaType(schema: z.ZodType): string {
  return definitionOf(schema).type;
}

/** The field schemas of an object schema (after unwrapping), or undefined. */
export function objectShape(schema: z.ZodType): Record<string, z.ZodType> | undefined {
  const definition = definitionOf(unwrapSchema(schema));
  return definition.type === 'object' ? (definition.shape as Record<string, z.ZodType>) : undefined;
}

/** The element schema of a list schema (after unwrapping), or undefined. */
export function elementOf(schema: z.ZodType): z.ZodType | undefined {
  const definition = definitionOf(unwrapSchema(schema));
  return definition.type === 'array' ? (definition.element as z.ZodType) : undefined;
}

/** The options of the union schemas among `schema`'s wrapped forms. */
export function unionOptions(schema: z.ZodType): z.ZodType[] {
  return wrappedForms(schema)
    .filter((form) => schemaType(form) === 'union')
    .flatMap((form) => definitionOf(form).options as z.ZodType[]);
}

/** The schema of the field at `path`, or undefined when the path leaves the schema. */
export function schemaAt(schema: z.ZodType, path: ConfigPath): z.ZodType | undefined {
  let current: z.ZodType | undefined = schema;
  for (const segment of path) {
    if (!current) return undefined;
    const inner = unwrapSchema(current);
    const definition = definitionOf(inner);
    if (definition.type === 'object' && typeof segment === 'string') {
      current = (definition.shape as Record<string, z.ZodType>)[segment];
    } else if (definition.type === 'array' && typeof segment === 'number') {
      current = definition.element as z.ZodType;
    } else if (definition.type === 'record') {
      current = definition.valueType as z.ZodType;
    } else {
      return undefined;
    }
  }
  return current;
}

/** The option names the object schema at `path` accepts, or undefined when it is no object. */
export function allowedKeysAt(schema: z.ZodType, path: ConfigPath): string[] | undefined {
  const field = schemaAt(schema, path);
  const shape = field ? objectShape(field) : undefined;
  return shape ? Object.keys(shape) : undefined;
}

/** True when the schema or one it wraps is marked `.meta({ secret: true })`. */
export function isSecretSchema(schema: z.ZodType): boolean {
  return wrappedForms(schema).some(
    (form) => (z.globalRegistry.get(form) as { secret?: unknown } | undefined)?.secret === true,
  );
}

/** The first description on the schema or the schemas it wraps. */
export function descriptionOf(schema: z.ZodType): string | undefined {
  return wrappedForms(schema).find((form) => form.description)?.description;
}

/** True for an object schema (not unwrapped) without a catch-all: keys outside its shape are errors. */
export function rejectsUnknownKeys(schema: z.ZodType): boolean {
  const definition = definitionOf(schema);
  return definition.type === 'object' && definition.catchall === undefined;
}
