import { KubernetesApiError } from '../errors.js';
import { fullJitterMs } from '../time/backoff.js';
import { sleep as realSleep, type Sleep } from '../time/sleep.js';
import type { RateLimiter } from './rate-limiter.js';

/** How transient Kubernetes API errors are retried. */
export interface RetryPolicy {
  /** Attempts in all, the first included. @default 8 */
  maxAttempts?: number;
  /** First back-off ceiling; doubled per attempt. @default 200 */
  baseMs?: number;
  /** Back-off ceiling (a server's `Retry-After` may ask for longer and is honoured). @default 30000 */
  maxMs?: number;
}

export interface RetryOptions extends RetryPolicy {
  /** Aborts the waits and the attempts; the call then rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** Every attempt takes a token first. */
  limiter?: RateLimiter;
  sleep?: Sleep;
  /** Uniform in [0, 1). @default Math.random */
  random?: () => number;
  /** Told before each wait (for metrics and tests). */
  onRetry?: (retry: { attempt: number; delayMs: number; error: KubernetesApiError }) => void;
}

/**
 * The wait before attempt `attempt + 1`: full jitter, but never shorter than what the server
 * asked for with `Retry-After` on a 429 or 5xx.
 */
export function retryDelayMs(
  attempt: number,
  error: KubernetesApiError,
  policy: Required<RetryPolicy>,
  random: () => number,
): number {
  const jittered = fullJitterMs(attempt, policy.baseMs, policy.maxMs, random);
  const askedFor =
    error.retryAfterSeconds !== undefined && (error.statusCode === 429 || error.statusCode >= 500)
      ? error.retryAfterSeconds * 1000
      : 0;
  return Math.max(jittered, askedFor);
}

/**
 * Runs `fn` until it succeeds, retrying transient `KubernetesApiError`s (5xx, 429, network,
 * timeouts) with capped exponential back-off and full jitter. Every attempt first takes a token
 * from the rate limiter. Gives up with the last `KubernetesApiError` after `maxAttempts`, at once
 * on a permanent one, and rethrows any other error untouched (those are not API failures).
 */
export async function withRetries<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const policy: Required<RetryPolicy> = {
    maxAttempts: options.maxAttempts ?? 8,
    baseMs: options.baseMs ?? 200,
    maxMs: options.maxMs ?? 30_000,
  };
  const { signal, limiter } = options;
  const sleep = options.sleep ?? realSleep;
  const random = options.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    signal?.throwIfAborted();
    await limiter?.acquire(signal);
    // Aborted while the token was on its way (it resolves on a later turn): the caller has gone,
    // and an attempt started now would not see the abort (an 'abort' listener added late never runs).
    signal?.throwIfAborted();
    try {
      return await fn(attempt);
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (!(err instanceof KubernetesApiError) || !err.transient || attempt >= policy.maxAttempts) throw err;
      const delayMs = retryDelayMs(attempt, err, policy, random);
      options.onRetry?.({ attempt, delayMs, error: err });
      await sleep(delayMs, signal);
    }
  }
}
