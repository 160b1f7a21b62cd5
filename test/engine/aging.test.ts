import { afterEach, expect, test } from 'vitest';
import { waitUntil } from '../helpers/wait.js';
import { behaviour, startEngine, type Engine } from './harness.js';

/*
 * Priority aging through the whole runner (real client-node against the sim), one slot: a blocker
 * holds it while a low task waits, then a burst of fresh high-priority tasks arrives. The order of
 * the Job creations the sim accepted is the order the supervisor started the tasks in.
 */

let engine: Engine | undefined;
afterEach(async () => {
  await engine?.close();
  engine = undefined;
});

const forever = behaviour({ durationMs: -1 });
const quick = behaviour({ durationMs: 10 });
const highs = ['high-a', 'high-b', 'high-c'];

/** Runs the scenario; returns the ids in the order their Jobs were created (blocker first). */
async function startOrder(priorityAging?: { everySeconds: number; step: number; max: number }): Promise<string[]> {
  engine = await startEngine({
    runner: { maxConcurrentJobs: 1, queueSize: 20, ...(priorityAging ? { priorityAging } : {}) },
  });
  const { runner, cluster } = engine;
  await runner.addTask({ id: 'blocker', image: 'busybox', ...forever });
  await waitUntil(async () => (await runner.getTask('blocker')).state === 'running', 'the blocker to run');
  const low = await runner.addTask({ id: 'low', image: 'busybox', priority: 0, ...quick });
  // The low task waits 0.6 s before the high ones are even added (the set-up, not a bound checked).
  const lowCreated = Date.parse(low.createdAt);
  await waitUntil(() => Promise.resolve(Date.now() >= lowCreated + 600), 'the low task to have waited 0.6 s');
  for (const id of highs) await runner.addTask({ id, image: 'busybox', priority: 5, ...quick });
  await runner.cancel('blocker');
  const records = await Promise.all(['low', ...highs].map((id) => runner.waitFor(id)));
  expect(records.map((r) => r.outcome)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);
  return cluster.jobCreations().map((c) => c.name);
}

test('strict priority (no priorityAging): the fresh high-priority tasks all start before the low one', async () => {
  expect(await startOrder()).toEqual(['blocker', ...highs, 'low']);
});

test('priorityAging: the low task, 6 steps older than every high one, starts first', async () => {
  // Every 0.1 s waited adds 1. Whenever the slot frees, the low task has waited ≥ 0.6 s more than
  // any high task, so its effective priority is ≥ 6 steps above a high task's base-0 share:
  // floor(wLow / 0.1) ≥ floor(wHigh / 0.1) + 6 > 5 + floor(wHigh / 0.1), however slow the machine
  // (`max` is out of reach, so the cap cannot level them).
  expect(await startOrder({ everySeconds: 0.1, step: 1, max: 1_000_000 })).toEqual(['blocker', 'low', ...highs]);
});
