/**
 * Capped exponential back-off with "full jitter": uniform in [0, min(maxMs, baseMs·2^(attempt-1))].
 *
 * @example
 * ```ts
 * fullJitterMs(3, 200, 30_000); // somewhere in [0, 800)
 * ```
 */
export function fullJitterMs(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  return random() * Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(attempt, 1) - 1, 30));
}
