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
  /** The slack this window was given, in ms. */
  slackMs: number;
  /** Its first request's arrival (the stamps' unit); NaN when there were none. */
  startAt: number;
}

/** A stretch in which a process ran nothing: `ms` long, ended at `endAt` (epoch ms, `Date.now()`). */
export interface Stall {
  endAt: number;
  ms: number;
}

/**
 * Records the stalls of this process's event loop: a 5 ms timer that fires `minMs` or more late
 * was held up that long. Requests held in a stall leave (or are stamped) together when it ends.
 * Stalls from 5 ms on count: with the runner at its rate limit (100 requests/s, one every 10 ms),
 * the stalls of 5–10 ms that a 10 ms threshold left out were enough to put a window 0.3 request
 * over its ceiling in CI (130 requests in 1,000 ms against 129.7). Returns the stop function.
 */
export function recordStalls(onStall: (stall: Stall) => void, minMs = 5): () => void {
  const periodMs = 5;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    const lateMs = now - last - periodMs;
    last = now;
    if (lateMs >= minMs) onStall({ endAt: Date.now(), ms: Math.ceil(lateMs) });
  }, periodMs);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * The longest gap between two stalls of one process that still makes them one busy stretch: one
 * tick of {@link recordStalls} on time (its 5 ms period, and 2 ms of timer jitter). A request let
 * through just before a stall needs a few turns of the event loop to reach the wire (a new
 * connection: connect, then write); one tick between two stalls does not give it those, so what
 * the first held can stay held to the end of the second. A CI run failed a boot window whose
 * runner had run 9 ms out of the last 492 in three stalls (338, 85 and 60 ms, 5 and 4 ms apart),
 * of which only the last ended in the window and counted.
 */
export const stretchGapMs = 7;

/**
 * One process's stalls (any order), those at most `gapMs` apart merged into busy stretches: a
 * stretch ends when its last stall ends and is as long as from its first stall's start.
 */
export function busyStretches(stalls: readonly Stall[], gapMs = stretchGapMs): Stall[] {
  const stretches: Stall[] = [];
  for (const stall of [...stalls].sort((a, b) => a.endAt - b.endAt)) {
    const last = stretches.at(-1);
    const startAt = stall.endAt - stall.ms;
    if (last !== undefined && startAt - last.endAt <= gapMs) {
      const lastStartAt = last.endAt - last.ms;
      last.endAt = Math.max(last.endAt, stall.endAt);
      last.ms = last.endAt - Math.min(lastStartAt, startAt);
    } else stretches.push({ ...stall });
  }
  return stretches;
}

/**
 * A window's slack from the stalls that ended within it, or a little before its first request:
 * what a stall held is stamped up to `arrivalSlackMs` after it ends, and later still if it reached
 * the sim while the sim stalled. So the sim's stalls under way in those `arrivalSlackMs`
 * (`simStalls`, also in `stalls`) push that limit back by how long they ran before the window.
 * Each stall can have packed into the window requests that were meant to spread over its length.
 * A stall still under way at the window's last request counts for all of it before that request:
 * what the timer sees as one stall may be one turn of the event loop that ran many callbacks, the
 * window's requests among them, each held by the callbacks before it since the stall began. Pass
 * each process's stalls through {@link busyStretches}. `atLeastMs` is the slack every window gets
 * (arrival delay, the longest stall of either process).
 */
export function stallSlack(
  stalls: readonly Stall[],
  atLeastMs: number,
  simStalls: readonly Stall[] = [],
): (startAt: number, endAt: number) => number {
  const sorted = [...stalls].sort((a, b) => a.endAt - b.endAt);
  const simSorted = [...simStalls].sort((a, b) => a.endAt - b.endAt);
  // sums[k]: the length of the first k stalls.
  const sums = [0];
  for (const stall of sorted) sums.push((sums.at(-1) as number) + stall.ms);
  const firstEndingAtOrAfter = (at: number, among: readonly Stall[] = sorted): number => {
    let low = 0;
    let high = among.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if ((among[mid] as Stall).endAt < at) low = mid + 1;
      else high = mid;
    }
    return low;
  };
  const longestMs = stalls.reduce((longest, stall) => Math.max(longest, stall.ms), 0);
  const longestSimMs = simStalls.reduce((longest, stall) => Math.max(longest, stall.ms), 0);
  return (startAt, endAt) => {
    // A CI window of 41 requests began 21 ms after a runner stall of 146 ms ended: what it let
    // through reached the sim in a busy stretch of the sim's that had begun 18 ms before the window.
    let lookbackMs = arrivalSlackMs;
    for (let k = firstEndingAtOrAfter(startAt - arrivalSlackMs, simSorted); k < simSorted.length; k++) {
      const stall = simSorted[k] as Stall;
      if (stall.endAt > startAt + longestSimMs) break;
      lookbackMs += Math.max(0, Math.min(stall.endAt, startAt) - (stall.endAt - stall.ms));
    }
    const from = firstEndingAtOrAfter(startAt - lookbackMs);
    const after = firstEndingAtOrAfter(endAt + 1);
    let held = (sums[after] as number) - (sums[from] as number);
    // A stall that ends after the window can have begun before its end only if it ends within `longestMs` of it.
    for (let k = after; k < sorted.length && (sorted[k] as Stall).endAt <= endAt + longestMs; k++) {
      const stall = sorted[k] as Stall;
      held += Math.max(0, endAt - (stall.endAt - stall.ms));
    }
    return Math.max(atLeastMs, arrivalSlackMs + held);
  };
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
 * T being the window's span plus its slack: `slackMs`, or what it gives for the window's first
 * and last arrival.
 */
export function worstWindow(
  arrivals: readonly number[],
  ceiling: Ceiling,
  slackMs: number | ((startAt: number, endAt: number) => number),
): WorstWindow {
  const sorted = [...arrivals].sort((a, b) => a - b);
  const slackOf = typeof slackMs === 'number' ? () => slackMs : slackMs;
  let worst: WorstWindow = { count: 0, spanMs: 0, excess: -Infinity, slackMs: 0, startAt: Number.NaN };
  for (let i = 0; i < sorted.length; i++) {
    const start = sorted[i] as number;
    for (let j = i; j < sorted.length; j++) {
      const end = sorted[j] as number;
      const spanMs = end - start;
      if (spanMs > longestWindowMs) break;
      const count = j - i + 1;
      const slack = slackOf(start, end);
      const excess = count - (ceiling.burst + (ceiling.qps * (spanMs + slack)) / 1000);
      if (excess > worst.excess) worst = { count, spanMs, excess, slackMs: slack, startAt: start };
    }
  }
  return worst;
}

/** A request as the sim's log has it, for {@link describeWindow}. */
export interface LoggedRequest {
  at: number;
  verb: string;
  resource: string;
  status: number;
}

/**
 * What a failed window held, to explain it: each request in it (ms after the window's first,
 * verb, resource, status) and each stall of either process that ended from 200 ms before it to
 * 200 ms after (`-` = before the window's first request).
 */
export function describeWindow(
  requests: readonly LoggedRequest[],
  window: WorstWindow,
  stalls: { sim: readonly Stall[]; runner: readonly Stall[] },
): string {
  const from = window.startAt;
  const to = from + window.spanMs;
  const offset = (at: number): string => `${at >= from ? '+' : ''}${at - from} ms`;
  const inWindow = requests
    .filter((r) => r.at >= from && r.at <= to)
    .map((r) => `  ${offset(r.at)} ${r.verb} ${r.resource} ${r.status}`);
  const near = (stall: Stall): boolean => stall.endAt >= from - 200 && stall.endAt <= to + 200;
  const stallLines = (['sim', 'runner'] as const).flatMap((who) =>
    stalls[who].filter(near).map((stall) => `  ${who} stall of ${stall.ms} ms ended ${offset(stall.endAt)}`),
  );
  return [`requests in the window:`, ...inWindow, `stalls near it:`, ...stallLines].join('\n');
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
