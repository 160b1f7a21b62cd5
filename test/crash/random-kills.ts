import { expect } from 'vitest';
import type { SimulatedCluster } from '../../src/sim/index.js';
import { seededRandom } from '../../src/sim/seeded-random.js';
import { CrashRun } from './crash-harness.js';
import type { CrashTask } from './protocol.js';
import { cancelled, exits, oom, succeeds, timesOut, unpullable } from './task-kinds.js';

/*
 * The random-instant crash scenario, at two sizes: `test/crash/crash.test.ts` runs a short one in
 * `npm test`, `test/slow/crash-random.test.ts` the full one (300 tasks, 12 kills) in `npm run test:slow`.
 */

/**
 * `count` tasks with mixed outcomes: successes of varied length, exit codes, OOM, and two each of
 * timeouts, unpullable images and cancels (placed as in the 300-task run, scaled to `count`).
 */
export function mixedTasks(count: number): CrashTask[] {
  const at = (of300: number): number => Math.round((of300 * count) / 300);
  const special = new Map<number, (id: string) => CrashTask>([
    [at(50), timesOut],
    [at(120), timesOut],
    [at(80), unpullable],
    [at(200), unpullable],
    [at(150), cancelled],
    [at(250), cancelled],
  ]);
  return Array.from({ length: count }, (_, i) => {
    const id = `mix-${i}`;
    const make = special.get(i);
    if (make) return make(id);
    const kind = i % 20;
    if (kind === 12 || kind === 13) return exits(id, 1 + (i % 5));
    if (kind === 14) return oom(id);
    if (kind === 15) return succeeds(id, 600);
    if (kind === 16) return exits(id, 7, 400);
    return succeeds(id, 20 + ((i * 37) % 200));
  });
}

/** The size of a random-kills run. */
export interface RandomKillsSize {
  tasks: number;
  /** SIGKILLs planned (`CRASH_KILLS` overrides); a child that finishes first is not killed. */
  kills: number;
  /** @default 30 */
  maxConcurrentJobs?: number;
}

/**
 * `size.tasks` mixed tasks added at once to a child runner that is SIGKILLed at `size.kills`
 * random instants (seeded: `CRASH_SEED`) and restarted on the same SQLite file until every task
 * is done: every task must end once, correctly, with a valid history and nothing left behind.
 */
export async function randomKills(cluster: SimulatedCluster, dir: string, size: RandomKillsSize): Promise<void> {
  const seed = Number(process.env.CRASH_SEED ?? 20261129);
  const random = seededRandom(seed);
  const run = new CrashRun(cluster, dir, `random-${size.tasks}`, mixedTasks(size.tasks), {
    maxConcurrentJobs: size.maxConcurrentJobs ?? 30,
    queueSize: size.tasks + 100,
    addConcurrently: true,
    // No task here is meant to end by the pending budget (the unpullable ones end by their permanent
    // pull error, grace 0): with the 2.5 s budget, a kill and a reboot under load could let it pass
    // before the runner saw the pull error, and fail the task as PendingTimeout. A budget beyond
    // any reboot keeps the check.
    pendingBudgetMs: 60_000,
  });
  const plannedKills = Number(process.env.CRASH_KILLS ?? size.kills);
  await run.runToCompletion({
    maxLaunches: plannedKills + 10,
    during: async (child) => {
      const kill = run.log.kills.length;
      if (kill >= plannedKills) return;
      // Uniform over boot (reconciliation) and work: a child takes about a second to be ready.
      const afterMs = Math.round(300 + random() * 1700);
      // At the latest once this share of the tasks is done: work is left for every planned kill,
      // however fast the machine gets through it (a fast one finished before the later instants).
      const doneBy = Math.floor((size.tasks * (kill + 1)) / (plannedKills + 1));
      const why = await new Promise<string>((resolve) => {
        const timer = setTimeout(() => resolve(`random instant ${afterMs} ms after launch`), afterMs);
        const stop = (reason: string): void => {
          clearTimeout(timer);
          resolve(reason);
        };
        void child.exited.then(() => stop('exited'));
        // Rejects only when the child ends first, which `exited` reports.
        child
          .waitFor(() => run.deleted.size >= doneBy, `${doneBy} tasks done`)
          .then(
            () => stop(`${run.deleted.size} of ${size.tasks} tasks done before ${afterMs} ms`),
            () => undefined,
          );
      });
      await run.kill(`${why} #${run.log.launches}`);
    },
  });
  // Paced by progress, the planned kills land; allow one in six to miss (10 of 12) for a child that
  // finishes everything left between two instants.
  const minKills = Math.max(1, plannedKills - Math.ceil(plannedKills / 6));
  expect(run.log.kills.length, `seed ${seed}`).toBeGreaterThanOrEqual(minKills);
  expect(await run.endStateProblems(), `seed ${seed}; kills: ${run.log.kills.join('; ')}`).toEqual([]);
}
