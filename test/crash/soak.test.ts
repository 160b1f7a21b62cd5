import { expect, test } from 'vitest';
import {
  arrivalSlackMs,
  busiestWindow,
  busyStretches,
  byProcess,
  describeWindow,
  type Stall,
  stallSlack,
  worstWindow,
} from '../soak/request-rate.js';
import { runSoak } from '../soak/soak.js';
import { summaryTable } from '../soak/summary-table.js';

/*
 * The fault soak, shortened for `npm test`: 200 tasks with mixed outcomes, 10% of requests 500/503,
 * 2% 429 + Retry-After, connection resets before and after the API applied them, every watch
 * dropped every 2 s and a 410 forced every 4 s, the runner SIGKILLed 5 times. `npm run soak` runs
 * the full one (1,000 tasks, 20 kills, a 410 every 10 s; test/soak/run-soak.ts).
 */

test('200 tasks under every fault at once, runner SIGKILLed 5 times: one correct outcome each, no duplicate, no orphan, rate under the ceiling', async () => {
  const kills = 5;
  // The run lasts 15 to 25 s: a 410 every 10 s could fall only while the runner was down (CI did).
  // A tick with no watch open leaves its 410 for the next launch (one run got none before that).
  const summary = await runSoak({ tasks: 200, kills, expireWatchesEveryMs: 4000 });
  const table = summaryTable(summary);
  expect(summary.problems, table).toEqual([]);
  expect(
    summary.outcomes.succeeded + summary.outcomes.failed + summary.outcomes.timedOut + summary.outcomes.cancelled,
  ).toBe(200);
  expect({ duplicates: summary.duplicates, orphans: summary.orphans }).toEqual({ duplicates: 0, orphans: 0 });
  expect(summary.worstWindow.excess, table).toBeLessThanOrEqual(0);
  // A launch may finish its work before its kill lands: most of them must have landed.
  expect(summary.kills, table).toBeGreaterThanOrEqual(kills - 1);
  // Every kind of fault was served.
  const f = summary.faults;
  for (const [kind, count] of Object.entries({
    http500: f.http500,
    http503: f.http503,
    http429: f.http429,
    resetsBefore: f.resetsBefore,
    resetsAfter: f.resetsAfter,
    watchesDropped: f.watchesDropped,
    watchesExpired: f.watchesExpired,
  }))
    expect(count, `${kind}\n${table}`).toBeGreaterThan(0);
}, 240_000);

test('the rate check: a window over burst + qps·T is found, one within it is not, per runner process', () => {
  const ceiling = { qps: 10, burst: 3 };
  // 5 requests within 100 ms: 3 + 10·0.1 = 4 allowed.
  expect(worstWindow([0, 20, 40, 60, 100], ceiling, 0).excess).toBeGreaterThan(0);
  // One per 100 ms after a burst of 3: at the ceiling, never over it.
  const paced = [0, 0, 0, 100, 200, 300, 400, 500];
  expect(worstWindow(paced, ceiling, 0).excess).toBeLessThanOrEqual(0);
  expect(worstWindow(paced, ceiling, 0).excess).toBeGreaterThan(-1);
  expect(busiestWindow(paced, 1000)).toBe(8);
  // A restarted process starts with a full bucket: its burst is not counted against the old one's.
  const [first, second] = byProcess([...paced, 600, 600, 600], [0, 550]);
  expect(first).toEqual(paced);
  expect(worstWindow(second ?? [], ceiling, 0).excess).toBeLessThanOrEqual(0);
});

test('the rate check: a window over the ceiling is described by its requests and the stalls near it', () => {
  const ceiling = { qps: 10, burst: 3 };
  const requests = [0, 500, 520, 540, 560, 580, 2_000].map((at, i) => ({
    at: 1_000_000 + at,
    verb: i === 0 ? 'list' : 'create',
    resource: 'jobs',
    status: 201,
  }));
  const window = worstWindow(
    requests.map((r) => r.at),
    ceiling,
    0,
  );
  expect(window).toMatchObject({ count: 5, spanMs: 80, startAt: 1_000_500 });
  const stalls = {
    sim: [{ endAt: 1_000_450, ms: 30 }],
    runner: [
      { endAt: 1_000_700, ms: 12 },
      { endAt: 1_000_900, ms: 40 },
    ],
  };
  expect(describeWindow(requests, window, stalls).split('\n')).toEqual([
    'requests in the window:',
    '  +0 ms create jobs 201',
    '  +20 ms create jobs 201',
    '  +40 ms create jobs 201',
    '  +60 ms create jobs 201',
    '  +80 ms create jobs 201',
    'stalls near it:',
    '  sim stall of 30 ms ended -50 ms',
    '  runner stall of 12 ms ended +200 ms',
  ]);
});

test('the rate check: a window gets the stalls that ended within it, summed, all before its end of one still under way, and never less than the least slack', () => {
  const stalls = [
    { endAt: 1_000, ms: 60 },
    { endAt: 1_100, ms: 50 },
    { endAt: 2_000, ms: 200 },
  ];
  const slack = stallSlack(stalls, 0);
  // Both stalls that ended within [1000, 1100], on top of the arrival slack: 20 + 60 + 50.
  expect(slack(1_000, 1_100)).toBe(arrivalSlackMs + 110);
  expect(slack(1_000, 1_050)).toBe(arrivalSlackMs + 60);
  // One that ended up to the arrival slack before the window counts; one earlier does not.
  expect(slack(1_020, 1_100)).toBe(arrivalSlackMs + 110);
  expect(slack(1_021, 1_100)).toBe(arrivalSlackMs + 50);
  // One still under way at the window's end counts for its part before it (the 200 ms stall began
  // at 1,800); one that began after the window does not count.
  expect(slack(1_121, 1_999)).toBe(arrivalSlackMs + 199);
  expect(slack(1_121, 1_700)).toBe(arrivalSlackMs);
  // Within a stall, all of it before the window's end counts: what it held may have been let through as it began.
  expect(slack(1_900, 1_950)).toBe(arrivalSlackMs + 150);
  expect(slack(2_000, 2_000)).toBe(arrivalSlackMs + 200);
  // Never less than the least slack.
  expect(stallSlack(stalls, 100)(1_000, 1_050)).toBe(100);
  // 40 requests in 97.5 ms against burst 20 + 100/s: over the ceiling with the least slack
  // (50 ms), within it once a 300 ms stall that ended as they began widens the window.
  const ceiling = { qps: 100, burst: 20 };
  const packed = Array.from({ length: 40 }, (_, k) => 1_000 + k * 2.5);
  expect(worstWindow(packed, ceiling, stallSlack([], 50)).excess).toBeGreaterThan(0);
  expect(worstWindow(packed, ceiling, stallSlack([{ endAt: 1_000, ms: 300 }], 50)).excess).toBeLessThanOrEqual(0);
});

test('the rate check: stalls of one process one tick apart are one busy stretch, which widens every window it ends in or overlaps', () => {
  const stalls = [
    { endAt: 1_200, ms: 60 },
    { endAt: 1_000, ms: 300 },
    { endAt: 1_090, ms: 85 },
    { endAt: 1_500, ms: 20 },
  ];
  // 700-1,000, 1,005-1,090 and 1,140-1,200 are 5 and 50 ms apart: the first two are one stretch.
  expect(busyStretches(stalls)).toEqual([
    { endAt: 1_090, ms: 390 },
    { endAt: 1_200, ms: 60 },
    { endAt: 1_500, ms: 20 },
  ]);
  expect(busyStretches(stalls, 50)).toEqual([
    { endAt: 1_200, ms: 500 },
    { endAt: 1_500, ms: 20 },
  ]);
  expect(busyStretches([])).toEqual([]);

  // The boot window a CI run failed (launch 6 of the fault soak): 51 requests stamped within 71 ms,
  // the runner having run 9 ms out of the 492 before the end of its third stall.
  const ceiling = { qps: 100, burst: 20 };
  const offsets = [
    0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 18, 19, 19, 19, 19, 20, 20, 20, 20, 21, 21, 21, 21, 21, 21, 22, 22, 22, 22, 22, 22,
    23, 23, 60, 60, 60, 60, 61, 61, 61, 61, 61, 68, 69, 69, 70, 70, 70, 70, 71, 71,
  ];
  const at = (offset: number): number => 1_000_000 + offset;
  const stall = (ms: number, endOffset: number): Stall => ({ endAt: at(endOffset), ms });
  const sim = [stall(12, -149), stall(32, -112), stall(31, -77), stall(49, -23), stall(80, 62), stall(7, 105)];
  const runner = [stall(338, -144), stall(85, -54), stall(60, 10), stall(87, 102), stall(79, 186), stall(29, 244)];
  const arrivals = offsets.map(at);
  // Over the ceiling with no stall counted; within it once the stretches widen the window. (The
  // stalls unmerged are within it too since the sim's stall under way as the window began pushes
  // back how early a stall may have ended and count: see the next test.)
  expect(worstWindow(arrivals, ceiling, stallSlack([], arrivalSlackMs)).excess).toBeGreaterThan(0);
  const widened = worstWindow(
    arrivals,
    ceiling,
    stallSlack([...busyStretches(sim), ...busyStretches(runner)], arrivalSlackMs, busyStretches(sim)),
  );
  expect(widened.excess).toBeLessThanOrEqual(0);
});

test('the rate check: a stall that ended just before the window pushes back how early a stall may have ended and still count', () => {
  // The window a CI run failed (launch 3 of the fault soak): 41 requests stamped within 92 ms,
  // 21 ms after a runner stall of 146 ms ended; what it let through reached the sim in a 15 ms
  // stall of the sim's that ended 3 ms before the first stamp, one tick before another: a busy
  // stretch begun 18 ms before the window. The least slack was 105 ms.
  const ceiling = { qps: 100, burst: 20 };
  const offsets = [
    0, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 10, 11, 11, 11, 11, 12, 12, 12, 13, 13, 13, 27, 28, 28, 30, 31,
    51, 52, 52, 60, 64, 73, 83, 92,
  ];
  const at = (offset: number): number => 1_000_000 + offset;
  const stall = (ms: number, endOffset: number): Stall => ({ endAt: at(endOffset), ms });
  const arrivals = offsets.map(at);
  const check = (simBefore: Stall[], runnerStallEnd: number): number => {
    const sim = busyStretches([...simBefore, stall(25, 27)]);
    const runner = busyStretches([stall(29, -180), stall(146, runnerStallEnd), stall(30, 50), stall(6, 60)]);
    return worstWindow(arrivals, ceiling, stallSlack([...sim, ...runner], 105, sim)).excess;
  };
  expect(check([stall(15, -3)], -21)).toBeLessThanOrEqual(0);
  // Without the sim's stall, the runner's ended too early to count: over the ceiling.
  expect(check([], -21)).toBeGreaterThan(0);
  // The sim's stretch pushes the limit back by its part before the window, no further: 20 + 18 ms.
  expect(check([stall(15, -3)], -38)).toBeLessThanOrEqual(0);
  expect(check([stall(15, -3)], -39)).toBeGreaterThan(0);
  // Only the sim's stalls delay the stamping of what was already sent: a stall of the runner's
  // under way as the window began (14 ms after the long one, not one stretch with it) does not.
  const sim = busyStretches([stall(25, 27)]);
  const runner = busyStretches([stall(29, -180), stall(146, -21), stall(12, 5), stall(30, 50), stall(6, 60)]);
  expect(runner).toContainEqual(stall(146, -21));
  expect(worstWindow(arrivals, ceiling, stallSlack([...sim, ...runner], 105, sim)).excess).toBeGreaterThan(0);
});
