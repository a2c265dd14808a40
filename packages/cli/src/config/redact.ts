import { z } from 'zod';

type AnySchema = z.ZodType & { _zod: { def: Record<string, unknown> & { type: string } } };

const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch', 'nonoptional']);
const SECRET_NAME = /(password|passwd|secret|token|credential|apikey|api_key|private_?key|sasl)/i;

export const REDACTED = '[redacted]';

function isSecret(schema: AnySchema): boolean {
  let current: AnySchema | undefined = schema;
  for (let depth = 0; current && depth < 20; depth += 1) {
    const meta = z.globalRegistry.get(current) as { secret?: unknown } | undefined;
    if (meta?.secret === true) return true;
    const def: AnySchema['_zod']['def'] = current._zod.def;
    if (WRAPPERS.has(def.type)) current = def.innerType as AnySchema;
    else if (def.type === 'pipe') current = def.in as AnySchema;
    else current = undefined;
  }
  return false;
}

function children(schema: AnySchema): AnySchema[] {
  const out: AnySchema[] = [];
  let current: AnySchema | undefined = schema;
  for (let depth = 0; current && depth < 20; depth += 1) {
    out.push(current);
    const def: AnySchema['_zod']['def'] = current._zod.def;
    if (WRAPPERS.has(def.type)) current = def.innerType as AnySchema;
    else if (def.type === 'pipe') current = def.in as AnySchema;
    else current = undefined;
  }
  return out;
}

/**
 * Returns a copy of `value` (a connector's options) with every field its schema marks
 * `.meta({ secret: true })` — and, as a safety net, every field whose name looks like a
 * credential — replaced by "[redacted]". For logs and printed configuration only.
 */
export function redactSecrets(value: unknown, schema: z.ZodType | undefined): unknown {
  return walk(value, schema as AnySchema | undefined);
}

function walk(value: unknown, schema: AnySchema | undefined): unknown {
  if (schema && isSecret(schema) && value !== undefined && value !== null) return REDACTED;
  const forms = schema ? children(schema) : [];
  if (Array.isArray(value)) {
    const element = forms.find((form) => form._zod.def.type === 'array')?._zod.def.element as
      | AnySchema
      | undefined;
    return value.map((item) => walk(item, element));
  }
  if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array)) {
    const objectForm = forms.find((form) => form._zod.def.type === 'object');
    const unions = forms
      .filter((form) => form._zod.def.type === 'union')
      .flatMap((form) => form._zod.def.options as AnySchema[]);
    const shapes = [objectForm, ...unions.filter((option) => option._zod.def.type === 'object')]
      .filter((form): form is AnySchema => form !== undefined)
      .map((form) => form._zod.def.shape as Record<string, AnySchema>);
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      if (SECRET_NAME.test(key) && (typeof item === 'string' || typeof item === 'number')) {
        out[key] = REDACTED;
        continue;
      }
      const fieldSchema = shapes.map((shape) => shape[key]).find((field) => field !== undefined);
      out[key] = walk(item, fieldSchema);
    }
    return out;
  }
  return value;
}
