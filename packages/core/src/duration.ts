import { z } from 'zod';

const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION_PATTERN = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

/** Parses '500ms', '1s', '1.5m', '2h', '1d' into milliseconds; returns undefined for anything else. */
export function parseDuration(text: string): number | undefined {
  const match = DURATION_PATTERN.exec(text.trim());
  if (!match) return undefined;
  const milliseconds = Number(match[1]) * UNITS[match[2]!]!;
  return Number.isFinite(milliseconds) && milliseconds > 0 ? Math.round(milliseconds) : undefined;
}

/** A zod schema for a positive duration string, output in milliseconds. */
export function durationSchema(description: string) {
  return z
    .string()
    .refine((text) => parseDuration(text) !== undefined, {
      message: "expected a positive duration like '500ms', '1s', '5m', '1h' or '1d'",
    })
    .transform((text) => parseDuration(text)!)
    .describe(description);
}
