import { describe, expect, it } from 'vitest';
import { RedeliveryLedger } from './redelivery-ledger.js';

/** An 11-character identity made of one letter, and the position string of several. */
const id = (letter: string) => letter.repeat(11);
const list = (...letters: string[]) => letters.map(id).join('');

describe('RedeliveryLedger', () => {
  it('lists committed and in-flight identities in every position, counting records', () => {
    const ledger = new RedeliveryLedger();
    ledger.reset(null);
    expect(ledger.deliver(id('a'), 1, false)).toEqual({
      skip: false,
      position: { count: 1, unacked: list('a') },
    });
    expect(ledger.deliver(id('b'), 2, false)).toEqual({
      skip: false,
      position: { count: 2, unacked: list('a', 'b') },
    });
  });

  it('acknowledges exactly the in-flight messages a committed position covers, then drops them once confirmed', () => {
    const ledger = new RedeliveryLedger();
    ledger.reset(null);
    ledger.deliver(id('a'), 1, false);
    ledger.deliver(id('b'), 2, false);
    ledger.deliver(id('c'), 3, false);
    const committed = ledger.committedUpTo({ count: 2, unacked: list('a', 'b') });
    expect(committed).toEqual({ deliveryTag: 2, identities: [id('a'), id('b')] });
    expect(ledger.position()).toEqual({ count: 3, unacked: list('a', 'b', 'c') });
    ledger.confirm(committed.identities);
    expect(ledger.dirty).toBe(true);
    expect(ledger.position()).toEqual({ count: 3, unacked: list('c') });
    expect(ledger.committedUpTo({ count: 2, unacked: list('a', 'b') })).toEqual({
      deliveryTag: null,
      identities: [],
    });
  });

  it('skips a redelivery of a committed message once per committed copy, never a first delivery', () => {
    const ledger = new RedeliveryLedger();
    ledger.reset({ count: 5, unacked: list('x', 'x', 'y') });
    expect(ledger.deliver(id('x'), 1, false).skip).toBe(false);
    expect(ledger.deliver(id('x'), 2, true).skip).toBe(true);
    expect(ledger.deliver(id('x'), 3, true).skip).toBe(true);
    const third = ledger.deliver(id('x'), 4, true);
    expect(third).toEqual({ skip: false, position: { count: 7, unacked: list('x', 'x', 'y', 'x', 'x') } });
    ledger.confirm([id('x'), id('x')]);
    expect(ledger.position()).toEqual({ count: 7, unacked: list('y', 'x', 'x') });
  });

  it('forgets committed identities that were not redelivered', () => {
    const ledger = new RedeliveryLedger();
    ledger.reset({ count: 2, unacked: list('p', 'q') });
    expect(ledger.deliver(id('p'), 1, true).skip).toBe(true);
    expect(ledger.unseen).toBe(1);
    ledger.forgetUnseen();
    expect(ledger.unseen).toBe(0);
    expect(ledger.dirty).toBe(true);
    expect(ledger.position()).toEqual({ count: 2, unacked: list('p') });
    expect(ledger.deliver(id('q'), 2, true).skip).toBe(false);
  });

  it('a seek to a committed position does not bring back identities already confirmed', () => {
    const ledger = new RedeliveryLedger();
    ledger.reset(null);
    ledger.deliver(id('a'), 1, false);
    ledger.deliver(id('b'), 2, false);
    const committed = { count: 1, unacked: list('a') };
    ledger.confirm(ledger.committedUpTo(committed).identities);
    ledger.reset(committed);
    expect(ledger.position()).toEqual({ count: 1, unacked: '' });
    expect(ledger.deliver(id('b'), 1, true)).toEqual({
      skip: false,
      position: { count: 2, unacked: list('b') },
    });
  });

  it('a seek to a position listing unconfirmed messages recognises their redelivery', () => {
    const ledger = new RedeliveryLedger();
    ledger.reset(null);
    ledger.deliver(id('a'), 1, false);
    ledger.deliver(id('b'), 2, false);
    ledger.reset({ count: 2, unacked: list('a', 'b') });
    expect(ledger.deliver(id('b'), 1, true).skip).toBe(true);
    expect(ledger.deliver(id('a'), 2, true).skip).toBe(true);
    expect(ledger.deliver(id('c'), 3, false).skip).toBe(false);
  });
});
