const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const QUOTE = 0x22;
const COMMA = 0x2c;

/** Where a CSV scan stands (RFC 4180): at a field start, in an unquoted field, in quotes, or just after a quote inside quotes. */
enum CsvState {
  FieldStart,
  Unquoted,
  Quoted,
  QuoteInQuoted,
}

/** One line cut from a file by {@link LineSplitter}. */
export interface SplitLine {
  /** The line without its newline (and without a `\r` before it); at most `maxLineBytes` bytes. */
  readonly bytes: Buffer;
  /** Absolute byte offset of the first byte of this line. */
  readonly start: number;
  /** Absolute byte offset just after this line (after its newline when it has one). */
  readonly end: number;
  /**
   * Length of the whole line in bytes, without its line ending (`\n`, or `\r\n`: a `\r` before
   * the newline is part of the ending, not of the line); more than `bytes.length` when cut.
   */
  readonly length: number;
  /** True when the line (without its ending) was longer than `maxLineBytes`: `bytes` holds only its first bytes. */
  readonly overLimit: boolean;
  /** False only for a last line without a newline, returned by {@link LineSplitter.flush}. */
  readonly terminated: boolean;
  /** Newlines inside the line: only in `csv` mode, inside quoted fields (0 otherwise). */
  readonly embeddedNewlines: number;
}

/** How {@link LineSplitter} finds the end of a line. */
export interface LineSplitterOptions {
  /**
   * CSV records (RFC 4180): a newline inside a quoted field does not end the line. A quote opens
   * a quoted field only at the start of a field; `""` inside one stands for a quote.
   */
  readonly csv?: boolean;
}

/**
 * Cuts a byte stream into lines on the Buffer level, without decoding text.
 *
 * Feed chunks with {@link push} (only once {@link next} returned null) and pull lines with
 * {@link next}. A line that ends inside the current chunk is returned as a view into that chunk
 * (no copy): callers must hand each chunk over and never write into it again. Bytes of a line that
 * is not finished yet are copied and held (at most `maxLineBytes` of them: a longer line is
 * returned cut, flagged `overLimit`, once its newline arrives). Not safe for concurrent use.
 */
export class LineSplitter {
  readonly #maxLineBytes: number;
  #chunk: Buffer | null = null;
  #index = 0;
  /** Absolute offset of `#chunk[#index]`, or of the next byte to feed when no chunk is held. */
  #position: number;
  /** Absolute offset after the last line returned. */
  #lineStart: number;
  #held: Buffer[] = [];
  #heldBytes = 0;
  #lineBytes = 0;
  #lastByte = -1;
  readonly #csv: boolean;
  #csvState = CsvState.FieldStart;
  #embeddedNewlines = 0;

  /** `offset`: absolute byte offset of the first byte that will be pushed (a line start). */
  constructor(maxLineBytes: number, offset = 0, options: LineSplitterOptions = {}) {
    this.#maxLineBytes = maxLineBytes;
    this.#csv = options.csv === true;
    this.#position = offset;
    this.#lineStart = offset;
  }

  /** Offset just after the last line returned: where a reader resumes without loss or repeat. */
  get lineStart(): number {
    return this.#lineStart;
  }

  /** Offset of the next byte to read from the file (everything before it was pushed). */
  get readPosition(): number {
    return this.#chunk === null ? this.#position : this.#position + (this.#chunk.length - this.#index);
  }

  /** Bytes pushed but not yet returned as a line (the held start of an unfinished line, plus unscanned chunk bytes). */
  get pendingBytes(): number {
    return this.readPosition - this.#lineStart;
  }

  /** True when {@link next} may return a line without another push. */
  get hasChunk(): boolean {
    return this.#chunk !== null;
  }

  /** Hands a chunk over. Throws when the previous chunk was not fully consumed by {@link next}. */
  push(chunk: Buffer): void {
    if (this.#chunk !== null) throw new Error('LineSplitter.push: previous chunk not consumed');
    if (chunk.length === 0) return;
    this.#chunk = chunk;
    this.#index = 0;
  }

  /** The next complete line, or null when more bytes are needed. */
  next(): SplitLine | null {
    const chunk = this.#chunk;
    if (chunk === null) return null;
    const newline = this.#csv ? this.#csvRecordEnd(chunk, this.#index) : chunk.indexOf(NEWLINE, this.#index);
    if (newline === -1) {
      this.#hold(chunk.subarray(this.#index));
      this.#position += chunk.length - this.#index;
      this.#chunk = null;
      return null;
    }
    const piece = chunk.subarray(this.#index, newline);
    this.#position += newline + 1 - this.#index;
    this.#index = newline + 1;
    if (this.#index === chunk.length) this.#chunk = null;
    let line: SplitLine;
    if (this.#lineBytes === 0) {
      const length =
        piece.length > 0 && piece[piece.length - 1] === CARRIAGE_RETURN ? piece.length - 1 : piece.length;
      const overLimit = length > this.#maxLineBytes;
      line = {
        bytes: piece.subarray(0, overLimit ? this.#maxLineBytes : length),
        start: this.#lineStart,
        end: this.#position,
        length,
        overLimit,
        terminated: true,
        embeddedNewlines: this.#takeEmbeddedNewlines(),
      };
    } else {
      this.#hold(piece);
      line = this.#takeHeld(this.#position, true);
    }
    this.#lineStart = this.#position;
    return line;
  }

  /**
   * At the end of a finished file: returns the held last line that has no newline (null when
   * there is none) and counts it as read. Call only after {@link next} returned null.
   */
  flush(): SplitLine | null {
    if (this.#chunk !== null) throw new Error('LineSplitter.flush: chunk not consumed');
    if (this.#lineBytes === 0) return null;
    const line = this.#takeHeld(this.#position, false);
    this.#lineStart = this.#position;
    return line;
  }

  #hold(piece: Buffer): void {
    this.#lineBytes += piece.length;
    if (piece.length > 0) this.#lastByte = piece[piece.length - 1]!;
    const room = this.#maxLineBytes + 1 - this.#heldBytes;
    if (room <= 0 || piece.length === 0) return;
    const kept = piece.length > room ? piece.subarray(0, room) : piece;
    this.#held.push(Buffer.from(kept));
    this.#heldBytes += kept.length;
  }

  #takeHeld(end: number, terminated: boolean): SplitLine {
    const length = this.#lastByte === CARRIAGE_RETURN ? this.#lineBytes - 1 : this.#lineBytes;
    const overLimit = length > this.#maxLineBytes;
    const joined = this.#held.length === 1 ? this.#held[0]! : Buffer.concat(this.#held, this.#heldBytes);
    this.#held = [];
    this.#heldBytes = 0;
    this.#lineBytes = 0;
    this.#lastByte = -1;
    const embeddedNewlines = this.#takeEmbeddedNewlines();
    return {
      bytes: joined.subarray(0, overLimit ? this.#maxLineBytes : length),
      start: this.#lineStart,
      end,
      length,
      overLimit,
      terminated,
      embeddedNewlines,
    };
  }

  #takeEmbeddedNewlines(): number {
    const count = this.#embeddedNewlines;
    this.#embeddedNewlines = 0;
    this.#csvState = CsvState.FieldStart;
    return count;
  }

  /**
   * CSV mode: the index of the first newline in `chunk` from `from` that ends a record (outside
   * quotes), or -1; the scan state carries over to the next chunk of the same record.
   */
  #csvRecordEnd(chunk: Buffer, from: number): number {
    let state = this.#csvState;
    for (let index = from; index < chunk.length; index += 1) {
      const byte = chunk[index]!;
      switch (state) {
        case CsvState.Quoted:
          if (byte === QUOTE) state = CsvState.QuoteInQuoted;
          else if (byte === NEWLINE) this.#embeddedNewlines += 1;
          continue;
        // A quote at a field start opens quotes; after a quote inside quotes it is an escaped quote.
        case CsvState.QuoteInQuoted:
        case CsvState.FieldStart:
          if (byte === QUOTE) {
            state = CsvState.Quoted;
            continue;
          }
          state = CsvState.Unquoted;
          break;
        case CsvState.Unquoted:
          break;
      }
      if (byte === NEWLINE) {
        this.#csvState = CsvState.FieldStart;
        return index;
      }
      if (byte === COMMA) state = CsvState.FieldStart;
    }
    this.#csvState = state;
    return -1;
  }
}
