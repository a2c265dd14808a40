/**
 * A filter transform: keeps orders of 20 or more, drops the rest (returns null). A value that
 * is not JSON throws, which makes the record poison (the pipeline's poison policy applies).
 *
 * @param {import('@tidemark/core').TidemarkRecord} record
 */
export default function dropSmallOrders(record) {
  const order = JSON.parse(Buffer.from(record.value ?? []).toString('utf8'));
  return order.amount >= 20 ? record : null;
}
