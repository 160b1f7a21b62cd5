/**
 * One timer for the supervisor's tasks queued with a back-off: armed at the earliest time one may
 * start, it sends WAKE then (and is armed again at the next). The supervisor's machine has no
 * clock; this is where time reaches it.
 */
export class WakeTimer {
  #timer: NodeJS.Timeout | undefined;
  #at: number | undefined;

  constructor(
    private readonly wake: (at: number) => void,
    private readonly next: () => number | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  /** Makes sure the timer fires by `at` (epoch ms). */
  arm(at: number): void {
    if (this.#at !== undefined && this.#at <= at) return;
    this.#set(at);
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#at = undefined;
  }

  #set(at: number): void {
    clearTimeout(this.#timer);
    this.#at = at;
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, at - this.now()));
  }

  #fire(): void {
    this.#timer = undefined;
    this.#at = undefined;
    this.wake(this.now());
    const next = this.next();
    if (next !== undefined) this.#set(next);
  }
}
