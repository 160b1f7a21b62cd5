import { afterEach, expect, test } from 'vitest';
import type { TaskInput } from '../../src/validation/task-spec.js';
import { behaviour, creationsByName, ourJobs, startEngine, type Engine } from './harness.js';

/*
 * The shared watch under faults: streams dropped every 200 ms, forced 410 Expired on resume, and
 * a stream held open in silence. Only Job conditions may decide an outcome, so every task must
 * still end as its container decided, and reconnects or relists must never create a second Job.
 */

/*
 * These faults blind the runner for a while: the watch sees nothing until it reconnects (a stalled
 * stream only after its watchdog). A deadline that passes meanwhile is checked on a fresh read of
 * the Job and its pods (stale-deadline.test.ts); no test here is about the pending budget, so give
 * it room beyond any blind window and keep these tests about the watch alone.
 */
const stuck = { pendingBudgetMs: 60_000 };

let engine: Engine | undefined;
afterEach(async () => {
  await engine?.close();
  engine = undefined;
});

/** A mix of quick and slower tasks, some exiting 3: `expected` is the outcome each must reach. */
function mixedTasks(prefix: string, count: number): { task: TaskInput; expected: 'succeeded' | 'failed' }[] {
  return Array.from({ length: count }, (_, i) => {
    const fails = i % 3 === 1;
    const id = `${prefix}-${String(i).padStart(2, '0')}`;
    return {
      task: {
        id,
        image: 'busybox',
        ...behaviour({ durationMs: 50 + (i % 5) * 120, exitCode: fails ? 3 : 0, logs: [`task ${id}`] }),
      },
      expected: fails ? 'failed' : 'succeeded',
    };
  });
}

/**
 * Runs the tasks to the end and checks outcomes, failure details and the one-create-per-task
 * audit. `exitCodes: false` checks only the Job's reason: after a relist, the Pods stream can
 * still lag the Jobs stream when the Job's Failed condition arrives (see the report on the exit code).
 */
async function runAndAudit(
  e: Engine,
  tasks: { task: TaskInput; expected: 'succeeded' | 'failed' }[],
  exitCodes = true,
): Promise<void> {
  for (const { task } of tasks) await e.runner.addTask(task);
  const records = await Promise.all(tasks.map(({ task }) => e.runner.waitFor(task.id)));
  expect(records.map((r) => ({ id: r.id, state: r.state, outcome: r.outcome }))).toEqual(
    tasks.map(({ task, expected }) => ({ id: task.id, state: 'deleted', outcome: expected })),
  );
  for (const [i, record] of records.entries()) {
    if (tasks[i]?.expected === 'failed')
      expect(record.failure).toMatchObject(
        exitCodes ? { reason: 'BackoffLimitExceeded', exitCode: 3 } : { reason: 'BackoffLimitExceeded' },
      );
    else expect(record.failure).toBeUndefined();
  }
  const created = creationsByName(e.cluster);
  expect(tasks.map(({ task }) => created.get(task.id))).toEqual(tasks.map(() => 1));
  expect(e.cluster.jobCreations()).toHaveLength(tasks.length);
  expect(ourJobs(e.cluster)).toEqual([]);
}

test('with every watch stream dropped every 200 ms, every task reaches its outcome and no extra Job is created', async () => {
  engine = await startEngine({
    cluster: { faults: { dropWatchesEveryMs: 200 } },
    runner: { maxConcurrentJobs: 6, stuck },
  });
  await runAndAudit(engine, mixedTasks('drop', 24));
  expect(engine.cluster.faults.counts().watchesDropped).toBeGreaterThan(4);
  // The runner resumed: it watched again after the drops.
  expect(engine.cluster.stats().requests['watch jobs']).toBeGreaterThan(2);
});

test('with resuming watches answered 410 Expired, the runner relists and every task still ends right, once', async () => {
  engine = await startEngine({ runner: { maxConcurrentJobs: 6, stuck } });
  const { cluster } = engine;
  const listsBefore = cluster.stats().requests['list jobs'] ?? 0;
  // Each drop makes the runner resume from its last resourceVersion; the next resumes are refused with 410.
  cluster.faults.dropWatchesEvery(150);
  cluster.faults.expireNextWatches(6);
  const tasks = mixedTasks('gone', 18);
  await runAndAudit(engine, tasks);
  expect(cluster.faults.counts().watchesExpired).toBe(6);
  // 410 means "list again": the relists are in the sim's log.
  expect((cluster.stats().requests['list jobs'] ?? 0) - listsBefore).toBeGreaterThan(0);
});

test('a watch held open in silence is abandoned by the stall watchdog, and every task still ends right, once', async () => {
  // A 1 s watch timeout and no grace: a silent stream is given up after about a second.
  engine = await startEngine({
    runner: { maxConcurrentJobs: 6, stuck, watch: { timeoutSeconds: 1, stallGraceMs: 0 } },
  });
  const { cluster } = engine;
  const tasks = mixedTasks('stall', 12);
  for (const { task } of tasks) await engine.runner.addTask(task);
  // Send the live streams into silent ones: the next watches (Jobs and Pods) are held mute.
  cluster.faults.stallNextWatches(2);
  cluster.faults.dropWatches();
  const records = await Promise.all(tasks.map(({ task }) => engine!.runner.waitFor(task.id)));
  expect(records.map((r) => r.outcome)).toEqual(tasks.map((t) => t.expected));
  expect(cluster.faults.counts().watchesStalled).toBe(2);
  const created = creationsByName(cluster);
  expect(tasks.map(({ task }) => created.get(task.id))).toEqual(tasks.map(() => 1));
  expect(ourJobs(cluster)).toEqual([]);
});
