import { setTimeout as delay } from 'node:timers/promises';

/**
 * Resolves like `work`, unless `milliseconds` pass (or `signal` aborts) first: then rejects
 * with `onTimeout()`. `work` keeps running (a late rejection of it is swallowed); the timer is
 * cleared either way, so no handle outlives the call.
 */
export async function withDeadline<T>(
  work: Promise<T>,
  milliseconds: number,
  onTimeout: () => unknown,
  signal?: AbortSignal,
): Promise<T> {
  const cancel = new AbortController();
  const stop = signal ? AbortSignal.any([cancel.signal, signal]) : cancel.signal;
  const timeout = delay(milliseconds, undefined, { signal: stop }).then(
    () => {
      throw onTimeout();
    },
    (error: unknown) => {
      if (signal?.aborted && !cancel.signal.aborted) throw onTimeout();
      throw error;
    },
  );
  timeout.catch(() => undefined);
  work.catch(() => undefined);
  try {
    return await Promise.race([work, timeout]);
  } finally {
    cancel.abort();
  }
}

/** Waits `milliseconds`, or less when `signal` aborts first; never rejects. */
export async function sleep(milliseconds: number, signal?: AbortSignal): Promise<void> {
  await delay(milliseconds, undefined, signal ? { signal } : {}).catch(() => undefined);
}

/**
 * A reader's wait for new data, for sources whose deliveries arrive on callbacks: `wait(ms,
 * signal)` resolves after `ms`, when `signal` aborts, or at the next `wake()`, whichever comes
 * first; it never rejects and leaves no timer or listener behind. One wait at a time (a
 * source's `read` calls never overlap); `wake()` with no wait pending does nothing.
 */
export class Wakeup {
  #wake: (() => void) | null = null;

  wait(milliseconds: number, signal: AbortSignal): Promise<void> {
    if (milliseconds <= 0 || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        if (this.#wake === done) this.#wake = null;
        resolve();
      };
      const timer = setTimeout(done, milliseconds);
      signal.addEventListener('abort', done, { once: true });
      this.#wake = done;
    });
  }

  wake(): void {
    this.#wake?.();
  }
}
