import { describe, expect, test } from 'vitest';
import { RateLimiter } from '../../src/kube/rate-limiter.js';
import { retryDelayMs, withRetries } from '../../src/kube/retry.js';
import { fullJitterMs } from '../../src/time/backoff.js';
import type { Sleep } from '../../src/time/sleep.js';
import { KubernetesApiError } from '../../src/errors.js';

const apiError = (statusCode: number, transient: boolean, retryAfterSeconds?: number) =>
  new KubernetesApiError('create', 'jobs/x', statusCode, undefined, `status ${statusCode}`, transient, {
    retryAfterSeconds,
  });

/** Records the waits instead of waiting. */
function recordingSleep(): { sleep: Sleep; waits: number[] } {
  const waits: number[] = [];
  return {
    waits,
    sleep: async (ms, signal) => {
      signal?.throwIfAborted();
      waits.push(ms);
    },
  };
}

/** Fails with the given errors in turn, then succeeds. */
function failing(...errors: unknown[]): { fn: () => Promise<string>; calls: () => number } {
  let calls = 0;
  return {
    calls: () => calls,
    fn: async () => {
      const err = errors[calls++];
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- the retry policy must classify non-Error throws too
      if (err !== undefined) throw err;
      return 'ok';
    },
  };
}

describe('withRetries', () => {
  test('retries transient errors (5xx, 429, network) and returns the eventual result', async () => {
    const { sleep, waits } = recordingSleep();
    const op = failing(apiError(500, true), apiError(503, true), apiError(429, true), apiError(0, true));
    await expect(withRetries(op.fn, { sleep, random: () => 1 })).resolves.toBe('ok');
    expect(op.calls()).toBe(5);
    // random() = 1 shows the ceilings: base 200 ms doubling per attempt.
    expect(waits).toEqual([200, 400, 800, 1600]);
  });

  test('a permanent error is thrown at once', async () => {
    const { sleep, waits } = recordingSleep();
    const op = failing(apiError(422, false));
    await expect(withRetries(op.fn, { sleep })).rejects.toMatchObject({ statusCode: 422 });
    expect(op.calls()).toBe(1);
    expect(waits).toEqual([]);
  });

  test('gives up after maxAttempts with the last KubernetesApiError', async () => {
    const { sleep } = recordingSleep();
    const op = failing(apiError(500, true), apiError(502, true), apiError(503, true), apiError(504, true));
    await expect(withRetries(op.fn, { sleep, maxAttempts: 3 })).rejects.toMatchObject({ statusCode: 503 });
    expect(op.calls()).toBe(3);
  });

  test('errors that are not API errors are not retried', async () => {
    const op = failing(new TypeError('bug'));
    await expect(withRetries(op.fn, recordingSleep())).rejects.toThrow(TypeError);
    expect(op.calls()).toBe(1);
  });

  test('honours Retry-After on 429 and 503, even past the back-off ceiling', async () => {
    const { sleep, waits } = recordingSleep();
    const op = failing(apiError(429, true, 2), apiError(503, true, 45));
    await withRetries(op.fn, { sleep, random: () => 0.5, maxMs: 1000 });
    expect(waits).toEqual([2000, 45_000]);
  });

  test("an abort stops the waiting and rejects with the signal's reason", async () => {
    const controller = new AbortController();
    const op = failing(apiError(500, true), apiError(500, true));
    const sleep: Sleep = async (_ms, signal) => {
      controller.abort(new Error('cancelled'));
      signal?.throwIfAborted();
    };
    await expect(withRetries(op.fn, { sleep, signal: controller.signal })).rejects.toThrow('cancelled');
    expect(op.calls()).toBe(1);
  });

  test('aborted while its token was on its way: no attempt is made, and it rejects with the reason', async () => {
    const limiter = new RateLimiter({ qps: 1000, burst: 100 });
    const controller = new AbortController();
    const op = failing();
    // The token is there at once, but its promise resolves on a later turn: the abort comes first.
    const call = withRetries(op.fn, { limiter, signal: controller.signal });
    controller.abort(new Error('unsubscribed'));
    await expect(call).rejects.toThrow('unsubscribed');
    expect(op.calls()).toBe(0);
    expect(limiter.stats().acquired).toBe(1);
  });

  test('every attempt takes a rate-limiter token', async () => {
    const limiter = new RateLimiter({ qps: 1000, burst: 100 });
    const op = failing(apiError(500, true), apiError(500, true));
    await withRetries(op.fn, { ...recordingSleep(), limiter });
    expect(limiter.stats().acquired).toBe(3);
  });
});

describe('back-off', () => {
  test('full jitter: uniform below a doubling ceiling, capped', () => {
    expect(fullJitterMs(1, 200, 30_000, () => 1)).toBe(200);
    expect(fullJitterMs(4, 200, 30_000, () => 1)).toBe(1600);
    expect(fullJitterMs(20, 200, 30_000, () => 1)).toBe(30_000);
    expect(fullJitterMs(3, 200, 30_000, () => 0)).toBe(0);
    expect(fullJitterMs(3, 200, 30_000, () => 0.5)).toBe(400);
  });

  test('Retry-After is a floor, only for 429 and 5xx', () => {
    const policy = { maxAttempts: 8, baseMs: 200, maxMs: 30_000 };
    expect(retryDelayMs(1, apiError(429, true, 1), policy, () => 0)).toBe(1000);
    expect(retryDelayMs(1, apiError(503, true, 1), policy, () => 0)).toBe(1000);
    expect(retryDelayMs(1, apiError(408, true, 1), policy, () => 0)).toBe(0);
  });
});
