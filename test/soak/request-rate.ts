/**
 * The rate-limit check of the soak: the runner's token bucket promises at most `burst + qps·T`
 * requests in any window of T, per process (a restarted runner starts with a full bucket). Read
 * from the sim's request log, one runner process (one launch) at a time.
 */

/** A token bucket's settings. */
export interface Ceiling {
  qps: number;
  burst: number;
}

/** The worst window found: its request count, its span, and how far over the ceiling it was. */
export interface WorstWindow {
  /** Requests in the window. */
  count: number;
  /** From its first request's arrival to its last one's, in ms. */
  spanMs: number;
  /** `count − (burst + qps·(spanMs + slackMs))`: ≤ 0 when the ceiling held. */
  excess: number;
}

/**
 * The sim stamps a request when its handler runs: a request sent when its token was taken can be
 * stamped a little later, which shrinks the window it appears in. 20 ms covers that (and the
 * stamps' 1 ms resolution) on a quiet machine; on a loaded one the caller adds the longest
 * event-loop stalls measured in the sim's process (requests that reached it during a stall are
 * stamped together) and in the runner's (requests let through during a stall leave together), as
 * `test/engine/transient-faults.test.ts` and `soak.ts` do.
 */
export const arrivalSlackMs = 20;

/** Longest window examined: past it, `qps·T` dwarfs `burst` and no window can be the worst. */
const longestWindowMs = 10_000;

/**
 * The window of `arrivals` (ms stamps, one process's requests) furthest over `burst + qps·T`,
 * T being the window's span plus `slackMs`.
 */
export function worstWindow(arrivals: readonly number[], ceiling: Ceiling, slackMs: number): WorstWindow {
  const sorted = [...arrivals].sort((a, b) => a - b);
  let worst: WorstWindow = { count: 0, spanMs: 0, excess: -Infinity };
  for (let i = 0; i < sorted.length; i++) {
    const start = sorted[i] as number;
    for (let j = i; j < sorted.length; j++) {
      const spanMs = (sorted[j] as number) - start;
      if (spanMs > longestWindowMs) break;
      const count = j - i + 1;
      const excess = count - (ceiling.burst + (ceiling.qps * (spanMs + slackMs)) / 1000);
      if (excess > worst.excess) worst = { count, spanMs, excess };
    }
  }
  return worst;
}

/** The most requests that arrived within any `windowMs` (a sliding window over `arrivals`). */
export function busiestWindow(arrivals: readonly number[], windowMs: number): number {
  const sorted = [...arrivals].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while ((sorted[i] as number) - (sorted[j] as number) >= windowMs) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

/**
 * `arrivals` split by the instants each runner process was started (`starts`, ascending): a
 * request belongs to the last process started before it arrived (a killed process sends nothing
 * more, and the next one is started only once it is gone).
 */
export function byProcess(arrivals: readonly number[], starts: readonly number[]): number[][] {
  const groups: number[][] = starts.map(() => []);
  for (const at of arrivals) {
    let k = starts.length - 1;
    while (k > 0 && (starts[k] as number) > at) k--;
    groups[k]?.push(at);
  }
  return groups;
}
