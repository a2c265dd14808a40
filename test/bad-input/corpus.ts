/**
 * The bad-input corpus: hostile files for every file-source format, each line marked good (must
 * reach the main topic exactly once, with the given value) or bad (must be a poison record: in
 * the dead-letter topic exactly once under `dead-letter`, gone under `skip`, the stop under
 * `fail`). A case is one file; a group is one source configuration holding several cases.
 */

/** One physical piece of a case file: bytes, line ending, and what must become of it. */
export interface CorpusLine {
  readonly raw: Buffer;
  readonly ending: '\n' | '\r\n' | '';
  /** good: delivered; bad: poison; none: no record (blank jsonl/csv line, CSV header). */
  readonly expect: 'good' | 'bad' | 'none';
  /** The delivered value, when it is not `raw` itself (CSV rows, a jsonl line's BOM). */
  readonly value?: Buffer;
}

export interface CorpusCase {
  readonly id: string;
  readonly lines: readonly CorpusLine[];
}

export interface CorpusGroup {
  /** Source name; also the folder of its files. */
  readonly name: string;
  readonly sink: 'string' | 'bytes';
  readonly config: Record<string, unknown>;
  readonly cases: readonly CorpusCase[];
}

export const MAX_LINE_BYTES = 4096;

const b = (text: string | Buffer): Buffer => (typeof text === 'string' ? Buffer.from(text, 'utf8') : text);
const good = (
  raw: string | Buffer,
  ending: CorpusLine['ending'] = '\n',
  value?: string | Buffer,
): CorpusLine => ({
  raw: b(raw),
  ending,
  expect: 'good',
  ...(value === undefined ? {} : { value: b(value) }),
});
const bad = (raw: string | Buffer, ending: CorpusLine['ending'] = '\n'): CorpusLine => ({
  raw: b(raw),
  ending,
  expect: 'bad',
});
const none = (raw: string | Buffer, ending: CorpusLine['ending'] = '\n'): CorpusLine => ({
  raw: b(raw),
  ending,
  expect: 'none',
});

const INVALID_UTF8 = [
  Buffer.from([0xff, 0xfe, 0x41]),
  Buffer.from([0xc0, 0xaf]), // overlong '/'
  Buffer.from([0xed, 0xa0, 0x80]), // a lone surrogate
  Buffer.from([0x61, 0xe2, 0x82]), // truncated sequence
];
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const join = (...parts: (string | Buffer)[]) => Buffer.concat(parts.map(b));
const exactly = (id: string, length: number) => `${id}:`.padEnd(length, 'x');

/** Cases whose lines are plain text: the same hostile lines under `lines` (UTF-8 checked by the sink) and `bytes`. */
function plainCases(prefix: string, utf8Checked: boolean): CorpusCase[] {
  const invalid = (id: string, bytes: Buffer): CorpusLine =>
    utf8Checked ? bad(join(id, bytes)) : good(join(id, bytes));
  return [
    ...INVALID_UTF8.map((bytes, index) => ({
      id: `${prefix}-invalid-utf8-${index}`,
      lines: [
        good(`${prefix}-u${index}-before`),
        invalid(`${prefix}-u${index}-`, bytes),
        good(`${prefix}-u${index}-after`),
      ],
    })),
    { id: `${prefix}-bom`, lines: [good(join(BOM, `${prefix}-bom-first`)), good(`${prefix}-bom-second`)] },
    { id: `${prefix}-cr-only`, lines: [good(`${prefix}-cr-a\r${prefix}-cr-b\r${prefix}-cr-c`)] },
    { id: `${prefix}-crlf`, lines: [good(`${prefix}-crlf-1`, '\r\n'), good(`${prefix}-crlf-2`, '\r\n')] },
    { id: `${prefix}-nul`, lines: [good(`${prefix}-nul-\u0000-inside`), good(`${prefix}-nul-ok`)] },
    {
      id: `${prefix}-at-max`,
      lines: [
        good(exactly(`${prefix}-max-lf`, MAX_LINE_BYTES)),
        good(exactly(`${prefix}-max-crlf`, MAX_LINE_BYTES), '\r\n'),
      ],
    },
    {
      id: `${prefix}-beyond-max`,
      lines: [
        good(`${prefix}-beyond-before`),
        bad(exactly(`${prefix}-beyond-1`, MAX_LINE_BYTES + 1)),
        bad(exactly(`${prefix}-beyond-big`, MAX_LINE_BYTES * 10), '\r\n'),
        good(`${prefix}-beyond-after`),
      ],
    },
    {
      id: `${prefix}-unterminated`,
      lines: [good(`${prefix}-unterminated-1`), good(`${prefix}-unterminated-last`, '')],
    },
    {
      id: `${prefix}-multibyte`,
      lines: [good(`${prefix}-mb-2:é`), good(`${prefix}-mb-3:€`), good(`${prefix}-mb-4:🌊`)],
    },
    {
      id: `${prefix}-mixed-endings`,
      lines: [good(`${prefix}-mixed-lf`), good(`${prefix}-mixed-crlf`, '\r\n'), good(`${prefix}-mixed-lf-2`)],
    },
    {
      id: `${prefix}-control`,
      lines: [good(`${prefix}-ctl-\t-\u001b[0m-\u007f-\f-\v`), good(`${prefix}-ctl-ok`)],
    },
    {
      // Two-byte characters filling a line to exactly the limit, then one character past it.
      id: `${prefix}-multibyte-at-max`,
      lines: [
        good(multibyteLine(`${prefix}-mbmax`, MAX_LINE_BYTES)),
        bad(multibyteLine(`${prefix}-mbover`, MAX_LINE_BYTES + 2)),
        good(`${prefix}-mbmax-after`),
      ],
    },
  ];
}

/** `id:` then 'é' (2 bytes) up to `bytes` bytes in all (an odd remainder gets one 'x'). */
function multibyteLine(id: string, bytes: number): string {
  const head = `${id}:`;
  const room = bytes - head.length;
  return `${head}${room % 2 === 1 ? 'x' : ''}${'é'.repeat(Math.floor(room / 2))}`;
}

const jsonLine = (id: string, extra = '') => `{"case":"${id}"${extra}}`;

function jsonCases(): CorpusCase[] {
  const deepArray = `${'['.repeat(1_500)}"deep-array"${']'.repeat(1_500)}`;
  const deepObject = `${'{"a":'.repeat(600)}"deep-object"${'}'.repeat(600)}`;
  return [
    {
      id: 'j-invalid',
      lines: [good(jsonLine('j-invalid-1')), bad('{"case": "j-invalid-2", oops'), bad('not json')],
    },
    {
      id: 'j-invalid-utf8',
      lines: [good(jsonLine('j-utf8-1')), bad(join('{"case":"j-utf8-2","s":"', INVALID_UTF8[0]!, '"}'))],
    },
    {
      id: 'j-bom',
      lines: [good(join(BOM, jsonLine('j-bom-1')), '\n', jsonLine('j-bom-1')), good(jsonLine('j-bom-2'))],
    },
    {
      id: 'j-crlf',
      lines: [good(jsonLine('j-crlf-1'), '\r\n'), none('', '\r\n'), good(jsonLine('j-crlf-2'), '\r\n')],
    },
    {
      id: 'j-cr-only',
      lines: [bad(`${jsonLine('j-cr-1')}\r${jsonLine('j-cr-2')}`), good(jsonLine('j-cr-3'))],
    },
    {
      id: 'j-nul',
      lines: [bad('{"case":"j-nul-1","s":"a\u0000b"}'), good('{"case":"j-nul-2","s":"a\\u0000b"}')],
    },
    { id: 'j-deep', lines: [good(deepArray), good(deepObject), good(jsonLine('j-deep-3'))] },
    {
      id: 'j-huge',
      lines: [
        good(jsonLine('j-huge-1', `,"pad":"${'p'.repeat(MAX_LINE_BYTES - 40)}"`)),
        bad(jsonLine('j-huge-2', `,"pad":"${'p'.repeat(MAX_LINE_BYTES)}"`)),
      ],
    },
    {
      id: 'j-numbers',
      lines: [
        good(jsonLine('j-num-1', ',"n":1e400')),
        good(jsonLine('j-num-2', ',"n":-1e-400')),
        good(jsonLine('j-num-3', ',"n":123456789012345678901234567890')),
      ],
    },
    { id: 'j-scalars', lines: [good('"j-scalar-string"'), good('424242'), none('   '), good('null')] },
    {
      id: 'j-trailing',
      lines: [bad(`${jsonLine('j-trailing-1')} trailing`), good(`${jsonLine('j-trailing-2')}   `)],
    },
    { id: 'j-arrays', lines: [good('[1,2,"j-array"]'), good('[]'), good('true')] },
    {
      id: 'j-duplicate-keys',
      lines: [good('{"case":"j-dup-1","case":"j-dup-1b"}'), good(jsonLine('j-dup-2'))],
    },
    {
      id: 'j-escapes',
      lines: [
        good('{"case":"j-esc-1","s":"\\ud800 lone surrogate escape"}'),
        bad('{"case":"j-esc-2","s":"raw\ttab"}'),
        good('{"case":"j-esc-3","s":"\\t escaped"}'),
      ],
    },
  ];
}

/** Timestamps in every unit, read with the source's `rowtimeUnit` (a group per unit). */
function timeCases(unit: 'ms' | 's' | 'us' | 'ns'): CorpusCase[] {
  const ms = 1_700_000_000_123;
  const inUnit = { s: 1_700_000_000, ms, us: ms * 1_000, ns: ms * 1_000_000 };
  const scale = { s: 1 / 1000, ms: 1, us: 1_000, ns: 1_000_000 }[unit];
  const sane = (value: number) => {
    const epochMs = Math.round(value / scale);
    return epochMs >= 0 && epochMs <= 253_402_300_799_999;
  };
  const line = (id: string, ts: string, expected: boolean) =>
    (expected ? good : bad)(jsonLine(id, `,"ts":${ts}`));
  const prefix = `t${unit}`;
  return [
    {
      id: `${prefix}-units`,
      lines: (['s', 'ms', 'us', 'ns'] as const).map((written) =>
        line(`${prefix}-in-${written}`, String(inUnit[written]), sane(inUnit[written])),
      ),
    },
    {
      id: `${prefix}-odd`,
      lines: [
        line(`${prefix}-iso`, '"2026-01-05T09:00:00Z"', true),
        line(`${prefix}-huge`, '1e300', false),
        line(`${prefix}-negative`, '-5000000000000', false),
        line(`${prefix}-garbage`, '"yesterday"', false),
        bad(jsonLine(`${prefix}-missing`)),
        line(`${prefix}-digits`, `"${inUnit[unit]}"`, true),
      ],
    },
  ];
}

const row = (fields: Record<string, string>) => JSON.stringify(fields);

function csvCases(): CorpusCase[] {
  const header = none('id,name,note');
  return [
    {
      id: 'c-quotes',
      lines: [
        header,
        good('c-q1,"with, comma",x', '\n', row({ id: 'c-q1', name: 'with, comma', note: 'x' })),
        good('c-q2,"say ""hi""",x', '\n', row({ id: 'c-q2', name: 'say "hi"', note: 'x' })),
        good('c-q3,a"b,x', '\n', row({ id: 'c-q3', name: 'a"b', note: 'x' })),
        bad('c-q4,"closed"junk,x'),
      ],
    },
    {
      id: 'c-newlines',
      lines: [
        header,
        good(
          'c-n1,"Great product\nwould buy, again",5',
          '\n',
          row({ id: 'c-n1', name: 'Great product\nwould buy, again', note: '5' }),
        ),
        good('c-n2,"two\r\nlines",6', '\r\n', row({ id: 'c-n2', name: 'two\r\nlines', note: '6' })),
        good('c-n3,plain,7', '\n', row({ id: 'c-n3', name: 'plain', note: '7' })),
      ],
    },
    {
      id: 'c-ragged',
      lines: [
        header,
        bad('c-r1,short'),
        bad('c-r2,too,many,fields'),
        good('c-r3,,', '\n', row({ id: 'c-r3', name: '', note: '' })),
        none(''),
      ],
    },
    {
      id: 'c-bom-crlf',
      lines: [
        none(join(BOM, 'id,name,note'), '\r\n'),
        good('c-b1,a,b', '\r\n', row({ id: 'c-b1', name: 'a', note: 'b' })),
        good('c-b2,"q",b', '\r\n', row({ id: 'c-b2', name: 'q', note: 'b' })),
      ],
    },
    {
      id: 'c-encoding',
      lines: [
        header,
        bad(join('c-e1,', INVALID_UTF8[1]!, ',x')),
        good('c-e2,nul\u0000here,x', '\n', row({ id: 'c-e2', name: 'nul\u0000here', note: 'x' })),
      ],
    },
    {
      id: 'c-too-long',
      lines: [
        header,
        bad(`c-l1,"${'l'.repeat(MAX_LINE_BYTES)}",x`),
        good('c-l2,b,c', '\n', row({ id: 'c-l2', name: 'b', note: 'c' })),
      ],
    },
    {
      id: 'c-unterminated-quote',
      lines: [
        header,
        good('c-u1,a,b', '\n', row({ id: 'c-u1', name: 'a', note: 'b' })),
        bad('c-u2,"never closed,x\nc-u3,a,b', '\n'),
      ],
    },
    { id: 'c-cr-only', lines: [bad('id,name,note\rc-cr1,a,b'), bad('c-cr2,a,b')] },
    { id: 'c-only-header', lines: [header] },
    {
      id: 'c-quoted-header',
      lines: [none('"id","name","note"'), good('c-h1,a,b', '\n', row({ id: 'c-h1', name: 'a', note: 'b' }))],
    },
    {
      id: 'c-spaces',
      lines: [
        header,
        good('c-s1, spaced ,x', '\n', row({ id: 'c-s1', name: ' spaced ', note: 'x' })),
        good('c-s2,"",x', '\n', row({ id: 'c-s2', name: '', note: 'x' })),
      ],
    },
  ];
}

export const CORPUS: readonly CorpusGroup[] = [
  { name: 'lines', sink: 'string', config: { format: 'lines' }, cases: plainCases('l', true) },
  { name: 'bytes', sink: 'bytes', config: { format: 'lines' }, cases: plainCases('b', false) },
  { name: 'jsonl', sink: 'string', config: { format: 'jsonl', key: 'case' }, cases: jsonCases() },
  ...(['ms', 's', 'us', 'ns'] as const).map(
    (unit): CorpusGroup => ({
      name: `jsonl-time-${unit}`,
      sink: 'string',
      config: { format: 'jsonl', rowtimeField: 'ts', rowtimeUnit: unit },
      cases: timeCases(unit),
    }),
  ),
  { name: 'csv', sink: 'string', config: { format: 'csv', key: 'id' }, cases: csvCases() },
];

/** The bytes of a case file. */
export function fileContent(corpusCase: CorpusCase): Buffer {
  return Buffer.concat(corpusCase.lines.flatMap((line) => [line.raw, Buffer.from(line.ending)]));
}

/** The good values of a case, and the 1-based first line of each bad record. */
export function expectations(corpusCase: CorpusCase): { good: Buffer[]; badLines: number[] } {
  const goodValues: Buffer[] = [];
  const badLines: number[] = [];
  let line = 1;
  for (const piece of corpusCase.lines) {
    if (piece.expect === 'good') goodValues.push(piece.value ?? piece.raw);
    if (piece.expect === 'bad') badLines.push(line);
    const text = piece.raw.toString('latin1');
    line += (text.match(/\n/g)?.length ?? 0) + (piece.ending === '' ? 0 : 1);
  }
  return { good: goodValues, badLines };
}
