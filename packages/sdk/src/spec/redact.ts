import type { z } from 'zod';
import { elementOf, isSecretSchema, objectShape, unionOptions } from './schema-walk.js';

export const REDACTED = '[redacted]';

/** Field names redacted whatever their schema says: a safety net for untyped options. */
const SECRET_NAME = /(password|passwd|secret|token|credential|apikey|api_key|private_?key|sasl)/i;

/**
 * Returns a copy of `value` (a connector's options) with every field its schema marks
 * `.meta({ secret: true })` — and, as a safety net, every field whose name looks like a
 * credential — replaced by "[redacted]". For logs, messages and printed configuration.
 */
export function redactSecrets(value: unknown, schema: z.ZodType | undefined): unknown {
  if (schema && isSecretSchema(schema) && value !== undefined && value !== null) return REDACTED;
  if (Array.isArray(value)) {
    const element = schema ? elementOf(schema) : undefined;
    return value.map((item) => redactSecrets(item, element));
  }
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return value;
  const shapes = schema
    ? [objectShape(schema), ...unionOptions(schema).map(objectShape)].filter((shape) => shape !== undefined)
    : [];
  const redacted: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    if (SECRET_NAME.test(key) && (typeof item === 'string' || typeof item === 'number')) {
      redacted[key] = REDACTED;
      continue;
    }
    const field = shapes.map((shape) => shape[key]).find((candidate) => candidate !== undefined);
    redacted[key] = redactSecrets(item, field);
  }
  return redacted;
}
