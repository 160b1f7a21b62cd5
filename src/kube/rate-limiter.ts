import { sleep as realSleep, type Sleep } from '../time/sleep.js';

export interface RateLimiterOptions {
  /** Sustained requests per second. @default 20 */
  qps?: number;
  /** Requests allowed at once after a quiet period. @default 30 */
  burst?: number;
  /** Monotonic milliseconds. @default performance.now */
  now?: () => number;
  sleep?: Sleep;
  /** Told of every acquisition that had to wait, with the wait in ms (metrics). Must not throw. */
  onWait?: (waitedMs: number) => void;
}

/** What the limiter has done so far (for metrics). */
export interface RateLimiterStats {
  acquired: number;
  /** Acquisitions that had to wait for a token. */
  delayed: number;
  totalWaitMs: number;
  maxWaitMs: number;
  /** Callers waiting right now. */
  waiting: number;
}

interface Waiter {
  since: number;
  resolve: (waitedMs: number) => void;
  detach: () => void;
}

/**
 * A token bucket in front of every Kubernetes API call (client-go's default is 5 QPS / burst
 * 10; ours 20 / 30): at most `burst + qps·T` requests in any window of T seconds.
 *
 * Tokens are taken when a caller is let through, never reserved ahead: callers wait in a FIFO
 * queue and one timer releases them as the bucket refills. So a process that was busy (an event
 * loop blocked for a while) lets at most `burst` through at once afterwards, instead of every
 * overdue reservation. See docs/decisions/001-hand-written-rate-limiter.md.
 *
 * @example
 * ```ts
 * const limiter = new RateLimiter({ qps: 20, burst: 30 });
 * await limiter.acquire(signal);
 * await batch.createNamespacedJob(...);
 * ```
 */
export class RateLimiter {
  readonly qps: number;
  readonly burst: number;
  readonly #now: () => number;
  readonly #sleep: Sleep;
  readonly #onWait: ((waitedMs: number) => void) | undefined;
  #tokens: number;
  #updatedAt: number;
  readonly #queue: Waiter[] = [];
  #timerRunning = false;
  readonly #stats = { acquired: 0, delayed: 0, totalWaitMs: 0, maxWaitMs: 0 };

  constructor(options: RateLimiterOptions = {}) {
    this.qps = options.qps ?? 20;
    this.burst = options.burst ?? 30;
    if (!(this.qps > 0) || !(this.burst >= 1))
      throw new RangeError(`rate limit needs qps > 0 and burst ≥ 1, got qps ${this.qps}, burst ${this.burst}`);
    this.#now = options.now ?? (() => performance.now());
    this.#sleep = options.sleep ?? realSleep;
    this.#onWait = options.onWait;
    this.#tokens = this.burst;
    this.#updatedAt = this.#now();
  }

  /**
   * Takes one token, waiting in line for it if the bucket is empty. Resolves with the time
   * waited (ms); rejects with `signal.reason` if aborted while waiting (no token is spent).
   */
  acquire(signal?: AbortSignal): Promise<number> {
    signal?.throwIfAborted();
    this.#refill();
    if (this.#queue.length === 0 && this.#tokens >= 1) {
      this.#tokens -= 1;
      this.#stats.acquired += 1;
      return Promise.resolve(0);
    }
    return new Promise<number>((resolve, reject) => {
      const onAbort = (): void => {
        const index = this.#queue.indexOf(waiter);
        if (index >= 0) this.#queue.splice(index, 1);
        reject(abortReason(signal));
      };
      const waiter: Waiter = {
        since: this.#now(),
        resolve,
        detach: () => signal?.removeEventListener('abort', onAbort),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#queue.push(waiter);
      this.#startTimer();
    });
  }

  stats(): RateLimiterStats {
    return { ...this.#stats, waiting: this.#queue.length };
  }

  #refill(): void {
    const now = this.#now();
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#updatedAt) * this.qps) / 1000);
    this.#updatedAt = now;
  }

  /** One timer at a time, sleeping until the next token; it releases whoever is first in line. */
  #startTimer(): void {
    if (this.#timerRunning) return;
    this.#timerRunning = true;
    void this.#release();
  }

  async #release(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        this.#refill();
        while (this.#queue.length > 0 && this.#tokens >= 1) {
          this.#tokens -= 1;
          const waiter = this.#queue.shift() as Waiter;
          waiter.detach();
          const waited = this.#now() - waiter.since;
          this.#stats.acquired += 1;
          this.#stats.delayed += 1;
          this.#stats.totalWaitMs += waited;
          this.#stats.maxWaitMs = Math.max(this.#stats.maxWaitMs, waited);
          waiter.resolve(waited);
          if (waited > 0) this.#onWait?.(waited);
        }
        if (this.#queue.length > 0) await this.#sleep(Math.max(1, ((1 - this.#tokens) * 1000) / this.qps));
      }
    } finally {
      this.#timerRunning = false;
    }
  }
}

/** The abort's reason as an Error (`AbortSignal.reason` is an `AbortError` DOMException unless given). */
function abortReason(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  return reason instanceof Error ? reason : new DOMException('This operation was aborted', 'AbortError');
}
