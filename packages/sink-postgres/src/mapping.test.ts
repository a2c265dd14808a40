import type { SinkRecord } from '@tidemark/sdk';
import { describe, expect, it } from 'vitest';
import type { ColumnInfo } from './column-types.js';
import { bindColumns, compileMapping, encodeRow, FieldReader, procedureRow } from './mapping.js';

const record: SinkRecord = {
  key: Buffer.from('k-1'),
  value: Buffer.from('{"user":{"id":7,"name":"Ann"},"big":12345678901234567890}'),
  headers: { trace: 't-1' },
  rowtime: 1_700_000_000_000,
  provenance: { 'kafka.topic': 'orders', 'kafka.offset': '42' },
  position: { unit: 'orders/0', next: '43' },
};

function column(name: string, type: string, extra: Partial<ColumnInfo> = {}): ColumnInfo {
  return { name, type, dataType: type, maxLength: null, nullable: true, hasDefault: false, ...extra };
}

describe('mapping records to rows', () => {
  it('reads every kind of field and encodes it for its column', () => {
    const mappings = compileMapping({
      user_id: 'value.user.id',
      missing: 'value.user.email',
      doc: 'value',
      key: 'key',
      trace: 'headers.trace',
      at: 'rowtime',
      at_ms: 'rowtime',
      origin: 'provenance',
      offset: 'provenance.kafka.offset',
      pipeline: 'pipeline',
    });
    const columns = new Map(
      [
        column('user_id', 'int4'),
        column('missing', 'text'),
        column('doc', 'jsonb'),
        column('key', 'text'),
        column('trace', 'text'),
        column('at', 'timestamptz'),
        column('at_ms', 'int8'),
        column('origin', 'jsonb'),
        column('offset', 'int8'),
        column('pipeline', 'text'),
      ].map((info) => [info.name, info]),
    );
    const reader = new FieldReader({ pipeline: 'orders-load' });
    reader.reset(record);
    expect(encodeRow(reader, bindColumns(mappings, columns))).toEqual({
      values: [
        '7',
        null,
        '{"user":{"id":7,"name":"Ann"},"big":12345678901234567890}',
        'k-1',
        't-1',
        '2023-11-14T22:13:20.000Z',
        '1700000000000',
        '{"pipeline":"orders-load","kafka.topic":"orders","kafka.offset":"42"}',
        '42',
        'orders-load',
      ],
    });
  });

  it('names the column and field of what cannot be written', () => {
    const mappings = compileMapping({ id: 'value.user.name' });
    const reader = new FieldReader({ pipeline: 'p' });
    reader.reset(record);
    expect(encodeRow(reader, bindColumns(mappings, new Map([['id', column('id', 'int4')]])))).toEqual({
      rejected: '"Ann" is not an integer (column id is int4)',
    });
    reader.reset({ ...record, value: Buffer.from('not json') });
    expect(encodeRow(reader, bindColumns(mappings, new Map([['id', column('id', 'text')]])))).toEqual({
      rejected: 'the value is not valid JSON (column id reads value.user.name)',
    });
  });

  it('builds the JSON object a procedure receives', () => {
    const reader = new FieldReader({ pipeline: 'p' });
    reader.reset(record);
    const mappings = compileMapping({
      user: 'value.user',
      at: 'rowtime',
      key: 'key',
      offset: 'provenance.kafka.offset',
    });
    expect(procedureRow(reader, mappings)).toEqual({
      object: { user: { id: 7, name: 'Ann' }, at: 1_700_000_000_000, key: 'k-1', offset: '42' },
    });
  });
});
