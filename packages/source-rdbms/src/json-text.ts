/**
 * Small pure helpers shared by the dialects' value codecs. A row is encoded as JSON text by
 * concatenating already-encoded values, so JSON columns can be embedded verbatim (numbers in
 * them keep every digit) and nothing passes through a lossy JS number.
 */

/** `text` as a JSON string literal. */
export function jsonString(text: string): string {
  return JSON.stringify(text);
}

/**
 * Builds JSON objects with fixed keys from already-encoded JSON values (one per name, in order).
 * The key prefixes are encoded once, so a row costs only the concatenation.
 */
export function jsonObjectWriter(names: readonly string[]): (encodedValues: readonly string[]) => string {
  const prefixes = names.map((name, index) => `${index === 0 ? '{' : ','}${JSON.stringify(name)}:`);
  const count = prefixes.length;
  return (encodedValues) => {
    if (count === 0) return '{}';
    let text = '';
    for (let index = 0; index < count; index += 1) text += prefixes[index]! + encodedValues[index]!;
    return `${text}}`;
  };
}

/** A finite float as a JSON number, anything else (NaN, Infinity) as a string. */
export function jsonFloat(text: string): string {
  const number = Number(text);
  return Number.isFinite(number) ? String(number) : jsonString(text);
}

/** `YYYY-MM-DD HH:MM:SS[.ffffff]` → `YYYY-MM-DDTHH:MM:SS[.ffffff]`; other text is returned as is. */
export function isoDateTime(text: string): string {
  return /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?$/.test(text) ? text.replace(' ', 'T') : text;
}

/** Quotes an identifier with `quote` (`"` or a backtick), doubling it inside; `a.b` is split. */
export function quoteQualified(name: string, quote: '"' | '`'): string {
  return name
    .split('.')
    .map((part) => `${quote}${part.replaceAll(quote, quote + quote)}${quote}`)
    .join('.');
}

/** Quotes one identifier (no splitting on dots). */
export function quoteIdentifier(name: string, quote: '"' | '`'): string {
  return `${quote}${name.replaceAll(quote, quote + quote)}${quote}`;
}
