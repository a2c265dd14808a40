/**
 * A map transform: upper-cases the record value (a UTF-8 string). Deterministic, as every
 * transform must be: a replayed record must produce the same output.
 *
 * @param {import('@tidemark/core').TidemarkRecord} record
 */
export default function uppercase(record) {
  if (record.value === null) return record;
  const text = Buffer.from(record.value).toString('utf8');
  return { ...record, value: Buffer.from(text.toUpperCase(), 'utf8') };
}
