import { expect, test } from 'vitest';
import { percentiles, runFailover } from './failover.js';

/*
 * The failover scenario, short: 3 replica processes, 30 tasks, the leader SIGKILLed twice (not
 * restarted: the last replica standing finishes the work). The
 * full run (300 tasks, 5 kills) is test/slow/failover.test.ts.
 */

test('3 replicas, the leader SIGKILLed twice: one outcome per task, no duplicate Job, none left, the cap held', async () => {
  const summary = await runFailover({
    tasks: 30,
    kills: 2,
    maxConcurrentJobs: 6,
    killEveryMs: [800, 1500],
    restart: false,
  });
  const { leaseDurationSeconds, retryPeriodSeconds } = summary.election;
  console.log(
    `failover: ${summary.tasks} tasks, ${summary.kills} kills, takeover ms ${summary.takeoverMs.join(', ')}` +
      ` (bound ${leaseDurationSeconds * 1000 + 2 * retryPeriodSeconds * 1000}), p50/p99/max ${percentiles(summary.takeoverMs).join('/')}`,
  );
  expect(summary.problems).toEqual([]);
  expect(summary.duplicates).toEqual([]);
  expect(summary.jobsLeft).toBe(0);
  expect(summary.mostUnfinished).toBeLessThanOrEqual(summary.cap);
  expect(summary.kills).toBe(2);
}, 180_000);
