/**
 * The simulator's sense of time. Timestamps on objects are always real wall-clock time; the
 * durations the *cluster* chooses (back-offs, image pulls, grace periods, scheduling retries,
 * controller latencies) are multiplied by `timeScale`, so tests can run them 100× faster
 * without changing what happens in which order. Durations a user writes into a spec and that
 * Kubernetes measures against timestamps on the object (`activeDeadlineSeconds`,
 * `ttlSecondsAfterFinished`) are not scaled: they stay comparable with `status.startTime`.
 */
export class SimClock {
  readonly #timers = new Set<NodeJS.Timeout>();

  constructor(readonly timeScale = 1) {
    if (!(timeScale > 0)) throw new RangeError(`timeScale must be > 0, got ${timeScale}`);
  }

  now(): number {
    return Date.now();
  }

  /** The last second {@link timestamp} formatted: most writes fall in the same second. */
  #lastSecond = { second: Number.NaN, text: '' };

  /** RFC 3339 with second precision, as Kubernetes serializes `metav1.Time`. */
  timestamp(ms = this.now()): string {
    const second = Math.floor(ms / 1000);
    if (second !== this.#lastSecond.second) {
      this.#lastSecond = { second, text: new Date(second * 1000).toISOString().replace('.000Z', 'Z') };
    }
    return this.#lastSecond.text;
  }

  /** RFC 3339 with microseconds (`metav1.MicroTime`), used by events and log timestamps. */
  microTimestamp(ms = this.now()): string {
    // `2026-01-01T00:00:00.123Z` → `2026-01-01T00:00:00.123000Z`
    return `${new Date(ms).toISOString().slice(0, -1)}000Z`;
  }

  /** Runs `fn` after a cluster-chosen duration, scaled by `timeScale`. */
  afterScaled(clusterMs: number, fn: () => void): () => void {
    return this.afterReal(clusterMs * this.timeScale, fn);
  }

  /** Runs `fn` after a real (unscaled) duration. */
  afterReal(ms: number, fn: () => void): () => void {
    const timer = setTimeout(
      () => {
        this.#timers.delete(timer);
        fn();
      },
      Math.max(0, ms),
    );
    timer.unref();
    this.#timers.add(timer);
    return () => {
      clearTimeout(timer);
      this.#timers.delete(timer);
    };
  }

  /** Cancels every pending timer (on close). */
  stopAll(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }
}
