import { setTimeout as delay } from 'node:timers/promises';

/** Waits `ms`, or rejects with `signal.reason` as soon as the signal aborts. */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/** Node's timers overflow past 2^31-1 ms (they fire after 1 ms): longer waits go in steps. */
export const maxTimerMs = 2 ** 31 - 1;

/** The real, abortable sleep. */
export const sleep: Sleep = async (ms, signal) => {
  signal?.throwIfAborted();
  let left = Math.max(0, ms);
  do {
    const step = Math.min(left, maxTimerMs);
    try {
      await delay(step, undefined, { signal });
    } catch (err) {
      // timers/promises rejects with its own AbortError; callers expect the signal's reason.
      if (signal?.aborted) throw signal.reason;
      throw err;
    }
    left -= step;
  } while (left > 0);
};
