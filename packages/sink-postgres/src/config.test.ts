import { TidemarkError } from '@tidemark/sdk';
import { describe, expect, it } from 'vitest';
import { parsePostgresSinkConfig, resolveApplicationName, resolveDeadLetterTable } from './config.js';
import { compileMapping, typeMismatch } from './mapping.js';

describe('postgres sink config', () => {
  it('applies defaults', () => {
    const config = parsePostgresSinkConfig({ table: 'events' });
    expect(config.mode).toBe('append');
    expect(config.columns).toEqual({ value: 'value' });
    expect(resolveDeadLetterTable(config)).toBe('events_dead_letter');
    expect(resolveApplicationName(config, { pipelineId: 'p', taskId: '1' })).toBe('tidemark:p/1');
  });

  it('lists every problem', () => {
    try {
      parsePostgresSinkConfig({ mode: 'upsert', columns: { a: 'nonsense' } });
      throw new Error('parsed');
    } catch (error) {
      expect(TidemarkError.hasCode(error, 'CONFIG_INVALID')).toBe(true);
      const message = (error as Error).message;
      expect(message).toContain('set exactly one of table and procedure');
      expect(message).toContain("mode 'upsert' needs the key columns");
      expect(message).toContain('columns.a');
    }
  });

  it('compiles field mappings and finds fields that can never fit a column', () => {
    const mappings = compileMapping({
      a: 'value.x.y',
      b: 'provenance.kafka.offset',
      c: { from: 'rowtime', type: 'bigint' },
      d: 'headers.h',
    });
    expect(mappings.map((mapping) => [mapping.kind, mapping.path])).toEqual([
      ['value-path', ['x', 'y']],
      ['provenance-column', ['kafka.offset']],
      ['rowtime', []],
      ['header', ['h']],
    ]);
    const column = {
      name: 'c',
      type: 'bool',
      dataType: 'boolean',
      maxLength: null,
      nullable: true,
      hasDefault: false,
    };
    expect(typeMismatch(mappings[2]!, column)).toContain('cannot be written');
    expect(typeMismatch(mappings[2]!, { ...column, type: 'int8' })).toBeUndefined();
    expect(typeMismatch(mappings[2]!, { ...column, type: 'int4' })).toContain('cannot be written');
    expect(typeMismatch(mappings[0]!, column)).toBeUndefined();
  });
});
