import { afterAll, beforeAll, expect, test } from 'vitest';
import { trackUnfinished } from '../helpers/sim-jobs.js';
import { behaviour, creationsByName, ourJobs, startEngine, type Engine } from './harness.js';

/*
 * The concurrency cap, sampled from the cluster itself (every stored change, in order), not
 * from the runner's counters: a Job counts as active from its ADDED until it carries a
 * Complete/Failed condition or is DELETED.
 */

let engine: Engine;
beforeAll(async () => {
  engine = await startEngine({ runner: { maxConcurrentJobs: 5 } });
});
afterAll(async () => {
  await engine.close();
});

test('50 tasks under a cap of 5: never more than 5 unfinished Jobs in the cluster, and all 50 succeed', async () => {
  const { runner, cluster } = engine;
  const tracker = trackUnfinished(engine.cluster);
  try {
    const ids = Array.from({ length: 50 }, (_, i) => `cap-${String(i).padStart(2, '0')}`);
    await Promise.all(ids.map((id) => runner.addTask({ id, image: 'busybox', ...behaviour({ durationMs: 40 }) })));
    const records = await Promise.all(ids.map((id) => runner.waitFor(id)));
    expect(records.filter((r) => r.outcome !== 'succeeded')).toEqual([]);
    expect(tracker.most()).toBeLessThanOrEqual(5);
    // The cap was reached, so the bound above was actually under load.
    expect(tracker.most()).toBe(5);
    const created = creationsByName(cluster);
    expect(ids.map((id) => created.get(id))).toEqual(ids.map(() => 1));
    expect(ourJobs(cluster)).toEqual([]);
  } finally {
    tracker.stop();
  }
});

test('with stuck, timed-out, failing and cancelled tasks in the mix, the cap still holds', async () => {
  const { runner, cluster } = engine;
  const tracker = trackUnfinished(engine.cluster);
  try {
    // A stuck or cancelled task's Job never gets Complete/Failed: only its deletion may free the slot.
    const kinds = [
      { prefix: 'stuck', task: behaviour({ neverStart: true }), outcome: 'failed' },
      { prefix: 'slow', task: { timeout: 1, ...behaviour({ durationMs: -1 }) }, outcome: 'timedOut' },
      { prefix: 'crash', task: behaviour({ durationMs: 20, exitCode: 3 }), outcome: 'failed' },
      { prefix: 'fine', task: behaviour({ durationMs: 20 }), outcome: 'succeeded' },
    ] as const;
    const tasks = [0, 1, 2, 3].flatMap((round) =>
      kinds.map((kind) => ({ id: `mixed-${kind.prefix}-${String(round)}`, kind })),
    );
    for (const { id, kind } of tasks) await runner.addTask({ id, image: 'busybox', ...kind.task });
    const cancelled = tasks.filter((_, i) => i % 5 === 0).map((t) => t.id);
    for (const id of cancelled) await runner.cancel(id);
    const records = await Promise.all(tasks.map(({ id }) => runner.waitFor(id)));
    // A cancel may land after a quick task already ended: then its own outcome stands.
    const expected = tasks.map(({ id, kind }) => ({
      id,
      outcome:
        cancelled.includes(id) && records.find((r) => r.id === id)?.outcome === 'cancelled'
          ? 'cancelled'
          : kind.outcome,
    }));
    expect(records.map(({ id, outcome }) => ({ id, outcome }))).toEqual(expected);
    expect(tracker.most()).toBeLessThanOrEqual(5);
    const created = creationsByName(cluster);
    expect(tasks.filter(({ id }) => (created.get(id) ?? 0) > 1)).toEqual([]);
    expect(ourJobs(cluster)).toEqual([]);
  } finally {
    tracker.stop();
  }
});
