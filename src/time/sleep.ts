/** Waits `ms`, or rejects with `signal.reason` as soon as the signal aborts. */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/** Node's timers overflow past 2^31-1 ms (they fire after 1 ms): longer waits go in steps. */
export const maxTimerMs = 2 ** 31 - 1;

/**
 * The real, abortable sleep: always at least one turn of the timers, even for 0 ms. A plain timer
 * and one 'abort' listener, not `timers/promises`: that one rejects an aborted wait with an
 * `AbortError` of its own, stack trace and all, which was then thrown away for the signal's
 * reason. Every task's delete ends such a wait (the GET that checks the Job is gone loses its race
 * with the watch), so it showed in the runner's profile.
 */
export const sleep: Sleep = async (ms, signal) => {
  signal?.throwIfAborted();
  await new Promise<void>((resolve) => {
    let left = Math.max(0, ms);
    let timer: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const step = (): void => {
      const wait = Math.min(left, maxTimerMs);
      left -= wait;
      timer = setTimeout(() => {
        if (left > 0) return step();
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, wait);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    step();
  });
  // Ended by the abort: rejects with its reason.
  signal?.throwIfAborted();
};
