import { describe, expect, it } from 'vitest';
import { Wakeup } from './deadline.js';

describe('Wakeup', () => {
  it('resolves at wake(), long before its time is up', async () => {
    const arrivals = new Wakeup();
    const started = Date.now();
    const waiting = arrivals.wait(10_000, new AbortController().signal);
    setTimeout(() => arrivals.wake(), 20);
    await waiting;
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('resolves when its time is up, or at once when the signal aborts', async () => {
    const arrivals = new Wakeup();
    const started = Date.now();
    await arrivals.wait(50, new AbortController().signal);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);

    const abort = new AbortController();
    const waiting = arrivals.wait(10_000, abort.signal);
    abort.abort();
    await waiting;
    expect(Date.now() - started).toBeLessThan(5_000);
    await arrivals.wait(10_000, abort.signal);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('a wake() with no wait pending does not cut the next wait short', async () => {
    const arrivals = new Wakeup();
    arrivals.wake();
    const started = Date.now();
    await arrivals.wait(60, new AbortController().signal);
    expect(Date.now() - started).toBeGreaterThanOrEqual(55);
  });
});
