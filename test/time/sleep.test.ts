import { afterEach, expect, test, vi } from 'vitest';
import { maxTimerMs, sleep } from '../../src/time/sleep.js';

afterEach(() => {
  vi.useRealTimers();
});

test('waits at least the time asked, and yields to the timers even for 0 ms', async () => {
  const started = performance.now();
  await sleep(30);
  expect(performance.now() - started).toBeGreaterThanOrEqual(29);

  // 0 ms still waits for the timers: a loop that sleeps 0 between tries never starves the event loop.
  let done = false;
  const zero = sleep(0).then(() => (done = true));
  for (let i = 0; i < 10; i++) await Promise.resolve();
  expect(done).toBe(false);
  await zero;
  expect(done).toBe(true);
});

test("an abort rejects with the signal's reason, at once and without leaving a listener", async () => {
  const controller = new AbortController();
  const reason = new Error('stop waiting');
  const started = performance.now();
  const waiting = sleep(60_000, controller.signal);
  setTimeout(() => controller.abort(reason), 10);
  await expect(waiting).rejects.toBe(reason);
  expect(performance.now() - started).toBeLessThan(30_000);

  // Already aborted: rejected without waiting.
  await expect(sleep(60_000, controller.signal)).rejects.toBe(reason);

  // A wait that ends removes its listener: aborting later rejects nothing and leaves none behind.
  const later = new AbortController();
  const add = vi.spyOn(later.signal, 'addEventListener');
  const remove = vi.spyOn(later.signal, 'removeEventListener');
  await sleep(1, later.signal);
  expect(remove.mock.calls.map(([type, listener]) => [type, listener])).toEqual(
    add.mock.calls.map(([type, listener]) => [type, listener]),
  );
  later.abort();
});

test('a wait longer than a Node timer allows is made of steps (a single timer would fire after 1 ms)', async () => {
  vi.useFakeTimers();
  let done = false;
  const waiting = sleep(maxTimerMs + 5000).then(() => (done = true));
  await vi.advanceTimersByTimeAsync(maxTimerMs);
  expect(done).toBe(false);
  await vi.advanceTimersByTimeAsync(4999);
  expect(done).toBe(false);
  await vi.advanceTimersByTimeAsync(1);
  await waiting;
  expect(done).toBe(true);
});
