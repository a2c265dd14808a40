import { describe, expect, it } from 'vitest';
import { DeliveryLedger } from './delivery-ledger.js';

const message = (messageId: number, hash: string) => ({ messageId, hash, qos: 1 as const });

describe('DeliveryLedger', () => {
  it('lists every held message in the position of each record, up to that record', () => {
    const ledger = new DeliveryLedger(100);
    ledger.reset(null);
    expect(ledger.hold(message(1, 'aa'))).toEqual({ seq: 1, unacked: ['1:aa'] });
    expect(ledger.hold(undefined)).toEqual({ seq: 2, unacked: ['1:aa'] });
    expect(ledger.hold(message(2, 'bb'))).toEqual({ seq: 3, unacked: ['1:aa', '2:bb'] });
  });

  it('acknowledges held messages a committed seq covers, in order, keeping them listed until confirmed', () => {
    const ledger = new DeliveryLedger(100);
    ledger.reset(null);
    ledger.hold(message(1, 'aa'));
    ledger.hold(message(2, 'bb'));
    ledger.hold(message(3, 'cc'));
    expect(ledger.acknowledge(2).map((held) => held.messageId)).toEqual([1, 2]);
    expect(ledger.acknowledge(2)).toEqual([]);
    expect(ledger.position().unacked).toEqual(['1:aa', '2:bb', '3:cc']);
    const round = ledger.sealRound();
    ledger.acknowledge(3);
    ledger.confirm(round);
    // 3 was acknowledged after the ping of `round`: not confirmed by it.
    expect(ledger.position().unacked).toEqual(['3:cc']);
    ledger.confirm(ledger.sealRound());
    expect(ledger.position().unacked).toEqual([]);
  });

  it('recognises a redelivery of a committed message by packet id and content hash', () => {
    const ledger = new DeliveryLedger(100);
    ledger.reset({ seq: 10, unacked: ['7:aa', '8:bb'] });
    expect(ledger.seq).toBe(10);
    expect(ledger.arrive(7, 'aa')).toBe('redelivery');
    // The same packet id with other content is a new message: the listed one is done.
    expect(ledger.arrive(8, 'ff')).toBe('new');
    expect(ledger.hold(message(8, 'ff'))).toEqual({ seq: 11, unacked: ['7:aa', '8:ff'] });
    ledger.confirm(ledger.sealRound());
    expect(ledger.position().unacked).toEqual(['8:ff']);
  });

  it('treats an acknowledged id seen again on the same connection as reused, whatever its content', () => {
    const ledger = new DeliveryLedger(100);
    ledger.reset(null);
    ledger.hold(message(5, 'aa'));
    ledger.acknowledge(1);
    expect(ledger.arrive(5, 'aa')).toBe('new');
  });

  it('after a reset, acknowledged but unconfirmed messages may come back and are recognised', () => {
    const ledger = new DeliveryLedger(100);
    ledger.reset(null);
    ledger.hold(message(5, 'aa'));
    ledger.acknowledge(1);
    ledger.reset({ seq: 1, unacked: [] });
    expect(ledger.arrive(5, 'aa')).toBe('redelivery');
    expect(ledger.arrive(5, 'aa')).toBe('new');
  });

  it('forgets held messages on reset (the broker redelivers them) and bounds carried entries', () => {
    const ledger = new DeliveryLedger(2);
    ledger.reset(null);
    ledger.hold(message(1, 'aa'));
    ledger.reset({ seq: 0, unacked: ['1:aa', '2:bb', '3:cc'] });
    expect(ledger.heldCount).toBe(0);
    expect(ledger.position().unacked).toEqual(['2:bb', '3:cc']);
  });

  it('positions stay as they were when yielded, through later holds, acknowledgements and confirmations', () => {
    const ledger = new DeliveryLedger(100);
    ledger.reset({ seq: 0, unacked: ['9:99'] });
    const first = ledger.hold(message(1, 'aa'));
    const second = ledger.hold(message(2, 'bb'));
    ledger.acknowledge(1);
    ledger.confirm(ledger.sealRound());
    const third = ledger.hold(message(3, 'cc'));
    expect(JSON.parse(JSON.stringify(first))).toEqual({ seq: 1, unacked: ['9:99', '1:aa'] });
    expect(JSON.parse(JSON.stringify(second))).toEqual({ seq: 2, unacked: ['9:99', '1:aa', '2:bb'] });
    expect(JSON.parse(JSON.stringify(third))).toEqual({ seq: 3, unacked: ['9:99', '2:bb', '3:cc'] });
  });
});
