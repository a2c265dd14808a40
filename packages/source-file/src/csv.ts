/** The result of parsing one CSV line: its fields, or why it is not valid CSV. */
export type CsvParseResult = { readonly fields: string[] } | { readonly error: string };

const QUOTE = 34;
const COMMA = 44;

/**
 * Parses one physical CSV line (RFC 4180 style, comma-separated): a field may be quoted with
 * `"`, a quoted field may hold commas, and `""` inside it stands for one quote. A quoted field
 * must end at a comma or at the end of the line. Newlines inside quoted fields are not
 * supported: the line ends at the newline, so such a field reports an unterminated quote.
 * Unquoted fields are taken verbatim (spaces kept, a stray quote inside kept as is).
 */
export function parseCsvLine(line: string): CsvParseResult {
  const fields: string[] = [];
  const length = line.length;
  let index = 0;
  while (true) {
    if (line.charCodeAt(index) === QUOTE) {
      let value = '';
      let segmentStart = index + 1;
      let cursor = segmentStart;
      while (true) {
        const quote = line.indexOf('"', cursor);
        if (quote === -1) return { error: `unterminated quoted field ${fields.length + 1}` };
        if (line.charCodeAt(quote + 1) === QUOTE) {
          value += line.slice(segmentStart, quote + 1);
          cursor = quote + 2;
          segmentStart = cursor;
          continue;
        }
        value += line.slice(segmentStart, quote);
        index = quote + 1;
        break;
      }
      fields.push(value);
      if (index === length) return { fields };
      if (line.charCodeAt(index) !== COMMA) {
        return { error: `unexpected character after closing quote of field ${fields.length}` };
      }
      index += 1;
      continue;
    }
    const comma = line.indexOf(',', index);
    if (comma === -1) {
      fields.push(line.slice(index));
      return { fields };
    }
    fields.push(line.slice(index, comma));
    index = comma + 1;
  }
}
