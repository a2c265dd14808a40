import { isUtf8 } from 'node:buffer';
import { toEpochMs } from '@tidemark/sdk';
import type { FileSourceConfig } from './config.js';
import { parseCsvRecord } from './csv.js';
import type { SplitLine } from './line-splitter.js';

const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** The CSV header state of one file: decoding a CSV line needs the file's header row. */
export interface CsvHeaderState {
  csvHeader: string[] | null;
  headerSeen: boolean;
}

/** What one line becomes: nothing (a blank line, the CSV header) or the parts of a record. */
export type DecodedLine =
  | { readonly skip: true }
  | {
      readonly skip?: false;
      readonly key: Uint8Array | null;
      readonly value: Buffer;
      /** Epoch ms from `rowtimeField`, or undefined (the caller uses the file's modification time). */
      readonly rowtime: number | undefined;
      /** Why the line is poison (the runtime applies the poison policy), or undefined. */
      readonly poison: string | undefined;
    };

/**
 * Decodes lines of a file source: `lines` as they are, `jsonl` (JSON objects), `csv` (rows
 * under the file's header row, as JSON objects); then the key (`key` field) and the rowtime
 * (`rowtimeField`, read with the runtime's one time rule). Pure: no I/O.
 */
export class LineDecoder {
  readonly #config: Pick<
    FileSourceConfig,
    'format' | 'key' | 'rowtimeField' | 'rowtimeUnit' | 'maxLineBytes'
  >;

  constructor(
    config: Pick<FileSourceConfig, 'format' | 'key' | 'rowtimeField' | 'rowtimeUnit' | 'maxLineBytes'>,
  ) {
    this.#config = config;
  }

  /**
   * Treats `line` as the CSV header when none was seen yet; returns true when it was taken as
   * such (blank lines before the header are not).
   */
  takeCsvHeader(state: CsvHeaderState, line: SplitLine): boolean {
    if (state.headerSeen) return false;
    const bytes = withoutBom(line);
    if (!line.overLimit && isBlank(bytes)) return false;
    state.headerSeen = true;
    const parsed = line.overLimit ? null : parseCsvRecord(bytes.toString('utf8'));
    state.csvHeader = parsed !== null && 'fields' in parsed ? parsed.fields : null;
    return true;
  }

  /** Decodes one line of a file whose CSV header state is `csv`. */
  decode(line: SplitLine, csv: CsvHeaderState): DecodedLine {
    const { format, maxLineBytes } = this.#config;
    let poison: string | undefined;
    let value: Buffer = line.bytes;
    let fields: Record<string, unknown> | undefined;
    const overLimit = (): string =>
      `line of ${line.length} bytes exceeds maxLineBytes (${maxLineBytes}); value holds its first bytes`;
    if (format === 'csv' && !csv.headerSeen) {
      if (!this.takeCsvHeader(csv, line)) return { skip: true };
      if (csv.csvHeader !== null) return { skip: true };
      poison = line.overLimit ? overLimit() : 'invalid CSV header row';
    } else if (line.overLimit) {
      poison = overLimit();
    } else if (format !== 'lines') {
      const bytes = withoutBom(line);
      if (isBlank(bytes)) return { skip: true };
      value = bytes;
      const decoded = !isUtf8(bytes)
        ? { poison: 'the line is not valid UTF-8 (files are read as encoding: utf8)' }
        : format === 'jsonl'
          ? decodeJson(bytes)
          : decodeCsv(bytes, csv.csvHeader);
      poison = decoded.poison;
      fields = decoded.fields;
      if (decoded.value) value = decoded.value;
    }
    let rowtime: number | undefined;
    let key: Uint8Array | null = null;
    const { key: keyField, rowtimeField, rowtimeUnit } = this.#config;
    if (fields !== undefined && poison === undefined) {
      const keyValue = keyField === undefined ? undefined : fields[keyField];
      if (keyValue !== undefined && keyValue !== null) {
        key = Buffer.from(typeof keyValue === 'string' ? keyValue : JSON.stringify(keyValue));
      }
      if (rowtimeField !== undefined) {
        const time = toEpochMs(fields[rowtimeField], 'auto', rowtimeUnit);
        if (typeof time === 'string') poison = `rowtimeField '${rowtimeField}': ${time}`;
        else rowtime = time;
      }
    } else if (poison === undefined && format !== 'lines' && rowtimeField !== undefined) {
      poison = `rowtimeField '${rowtimeField}' needs a JSON object`;
    }
    return { key, value, rowtime, poison };
  }
}

interface Decoded {
  readonly fields?: Record<string, unknown>;
  readonly value?: Buffer;
  readonly poison?: string;
}

function decodeJson(bytes: Buffer): Decoded {
  try {
    const parsed: unknown = JSON.parse(bytes.toString('utf8'));
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? { fields: parsed as Record<string, unknown> }
      : {};
  } catch (error) {
    return { poison: `invalid JSON: ${error instanceof Error ? error.message : String(error)}` };
  }
}

function decodeCsv(bytes: Buffer, header: string[] | null): Decoded {
  const parsed = parseCsvRecord(bytes.toString('utf8'));
  if (header === null) return { poison: 'CSV row without a valid header row' };
  if ('error' in parsed) return { poison: `invalid CSV: ${parsed.error}` };
  if (parsed.fields.length !== header.length) {
    return { poison: `CSV row has ${parsed.fields.length} fields, the header ${header.length}` };
  }
  const row: Record<string, string> = {};
  header.forEach((name, index) => {
    row[name] = parsed.fields[index]!;
  });
  return { fields: row, value: Buffer.from(JSON.stringify(row)) };
}

function isBlank(bytes: Buffer): boolean {
  for (const byte of bytes) {
    if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0d) return false;
  }
  return true;
}

/** The line's bytes without a UTF-8 byte-order mark when it is the very first line of its file. */
function withoutBom(line: SplitLine): Buffer {
  return line.start === 0 && line.bytes.subarray(0, 3).equals(UTF8_BOM) ? line.bytes.subarray(3) : line.bytes;
}
