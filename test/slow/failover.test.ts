import { expect, test } from 'vitest';
import { percentiles, runFailover } from '../replicas/failover.js';

/*
 * The failover scenario at full size (`npm run test:slow`): 3 replica processes on one
 * PostgreSQL schema and one simulated cluster, 300 tasks submitted round-robin, the leader
 * SIGKILLed 5 times at random instants and restarted. The short run is test/replicas/failover.test.ts.
 */

test('300 tasks over 3 replicas, the leader SIGKILLed 5 times: one outcome each, no duplicate, none left, cap held', async () => {
  const summary = await runFailover({ tasks: 300, kills: 5, maxConcurrentJobs: 10 });
  const { leaseDurationSeconds, retryPeriodSeconds } = summary.election;
  const bound = leaseDurationSeconds * 1000 + 2 * retryPeriodSeconds * 1000;
  console.log(
    [
      `failover (full): ${summary.tasks} tasks, ${summary.kills} leader kills, ${summary.launches} launches, ${summary.wallMs} ms`,
      `  takeover (kill → new leader) ms: ${summary.takeoverMs.join(', ')}; p50/p99/max ${percentiles(summary.takeoverMs).join('/')}; bound ${bound}`,
      `  kill → first Job action ms: ${summary.firstJobActionMs.join(', ')}`,
      `  duplicates ${summary.duplicates.length}, Jobs left ${summary.jobsLeft}, most unfinished ${summary.mostUnfinished} (cap ${summary.cap}), history problems ${summary.problems.length}`,
    ].join('\n'),
  );
  if (summary.problems.length > 0 || Math.max(...summary.takeoverMs) > bound) console.log(summary.timeline.join('\n'));
  expect(summary.problems).toEqual([]);
  expect(summary.duplicates).toEqual([]);
  expect(summary.jobsLeft).toBe(0);
  expect(summary.mostUnfinished).toBeLessThanOrEqual(summary.cap);
  expect(summary.kills).toBe(5);
}, 900_000);
