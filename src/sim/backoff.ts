/**
 * client-go's `flowcontrol.Backoff`, which the kubelet uses for image pulls and container
 * restarts: per-key durations that start at `initialMs`, double on every `next` up to `maxMs`,
 * and reset once a key has been quiet for twice the maximum. All times are cluster ms (the
 * caller divides real elapsed time by the time scale), so the durations it reports are the ones
 * Kubernetes would print.
 */
export class Backoff {
  readonly #entries = new Map<string, { backoffMs: number; lastUpdate: number }>();

  constructor(
    readonly initialMs: number,
    readonly maxMs: number,
  ) {}

  #expired(now: number, lastUpdate: number): boolean {
    return now - lastUpdate > 2 * this.maxMs;
  }

  /** Records a failure at `now`: the first (or first after a quiet spell) gets `initialMs`, later ones double. */
  next(id: string, now: number): void {
    const entry = this.#entries.get(id);
    if (!entry || this.#expired(now, entry.lastUpdate)) {
      this.#entries.set(id, { backoffMs: this.initialMs, lastUpdate: now });
      return;
    }
    entry.backoffMs = Math.min(entry.backoffMs * 2, this.maxMs);
    entry.lastUpdate = now;
  }

  /** The current back-off of `id` (0 when it has none). */
  get(id: string): number {
    return this.#entries.get(id)?.backoffMs ?? 0;
  }

  /** When `id` last got a `next` (0 when it has none). */
  lastUpdate(id: string): number {
    return this.#entries.get(id)?.lastUpdate ?? 0;
  }

  /** True while less than the back-off has passed since `eventTime` (container restarts: since it finished). */
  isInBackOffSince(id: string, eventTime: number, now: number): boolean {
    const entry = this.#entries.get(id);
    if (!entry || this.#expired(now, entry.lastUpdate)) return false;
    return now - eventTime < entry.backoffMs;
  }

  /** True while less than the back-off has passed since the last `next` (image pulls). */
  isInBackOffSinceUpdate(id: string, now: number): boolean {
    const entry = this.#entries.get(id);
    if (!entry || this.#expired(now, entry.lastUpdate)) return false;
    return now - entry.lastUpdate < entry.backoffMs;
  }

  /** Forgets `id` (its pod is gone). */
  delete(id: string): void {
    this.#entries.delete(id);
  }
}

/**
 * Go's `time.Duration.String()` for a duration in ms, as Kubernetes messages print them:
 * `500ms`, `1.5s`, `10s`, `1m20s`, `5m0s`, `1h0m0s`.
 */
export function goDuration(ms: number): string {
  const total = Math.round(ms);
  if (total === 0) return '0s';
  if (total < 1000) return `${total}ms`;
  const hours = Math.floor(total / 3_600_000);
  const minutes = Math.floor((total % 3_600_000) / 60_000);
  const millis = total % 60_000;
  const seconds = `${Math.floor(millis / 1000)}${
    millis % 1000
      ? `.${String(millis % 1000)
          .padStart(3, '0')
          .replace(/0+$/, '')}`
      : ''
  }s`;
  if (hours > 0) return `${hours}h${minutes}m${seconds}`;
  if (minutes > 0) return `${minutes}m${seconds}`;
  return seconds;
}
