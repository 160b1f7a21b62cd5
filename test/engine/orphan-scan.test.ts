import type { Registry } from 'prom-client';
import type { Subscription } from 'rxjs';
import { afterEach, expect, test } from 'vitest';
import type { RunnerEvent } from '../../src/runner/runner-events.js';
import type { RunnerOptions } from '../../src/runner/options.js';
import { waitUntil } from '../helpers/wait.js';
import { behaviour, ourJobs, startEngine, type Engine } from './harness.js';
import { createPreexistingJob } from './preexisting-job.js';

/*
 * Orphan detection while the runner runs (`orphanScanIntervalMs`), not only at start: a Job of
 * ours created behind the runner's back is reported once (and deleted with `orphans: 'delete'`),
 * counted in `orphan_jobs_total`; the Jobs of tasks being added and run meanwhile never are.
 */

const engines: Engine[] = [];
const subscriptions: Subscription[] = [];
afterEach(async () => {
  for (const s of subscriptions.splice(0)) s.unsubscribe();
  await Promise.all(engines.splice(0).map((e) => e.close()));
});

async function engine(runner: RunnerOptions): Promise<{ e: Engine; events: RunnerEvent[] }> {
  const e = await startEngine({ runner });
  engines.push(e);
  const events: RunnerEvent[] = [];
  subscriptions.push(e.runner.events$.subscribe((event) => events.push(event)));
  return { e, events };
}

const orphanEvents = (events: RunnerEvent[]) => events.filter((ev) => ev.kind === 'orphanJob');

/** The LISTs of Jobs the sim has served so far (one per scan, once started). */
const jobLists = (e: Engine): number =>
  e.cluster.requests().filter((r) => r.verb === 'list' && r.resource === 'jobs').length;

async function orphanCounts(registry: Registry): Promise<Record<string, number>> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === 'k8s_jobs_orphan_jobs_total');
  if (!metric) throw new Error('no k8s_jobs_orphan_jobs_total');
  return Object.fromEntries(metric.values.map((v) => [String(v.labels.action), v.value]));
}

test('a Job of ours created behind the running runner is reported by the periodic scan, once, and counted', async () => {
  const { e, events } = await engine({ orphanScanIntervalMs: 50 });
  const stray = await createPreexistingJob(e.cluster, {
    id: 'stray',
    image: 'busybox',
    ...behaviour({ durationMs: -1 }),
  });
  const event = await waitUntil(() => orphanEvents(events)[0], 'the scan to report the orphan');
  expect(event).toEqual({
    kind: 'orphanJob',
    name: 'stray',
    uid: stray.metadata?.uid,
    taskId: 'stray',
    action: 'reported',
    phase: 'scan',
  });
  // Later scans see it again and stay silent about it.
  const lists = jobLists(e);
  await waitUntil(() => jobLists(e) >= lists + 3, 'three more scans');
  expect(orphanEvents(events)).toHaveLength(1);
  expect(await orphanCounts(e.runner.metrics)).toEqual({ reported: 1 });
  // Reported, not touched, and not made a task.
  expect(ourJobs(e.cluster).map((j) => j.metadata.name)).toEqual(['stray']);
  await expect(e.runner.getTask('stray')).rejects.toMatchObject({ name: 'TaskNotFoundError' });
});

test("with orphans: 'delete' the periodic scan deletes the orphan", async () => {
  const { e, events } = await engine({ orphans: 'delete', orphanScanIntervalMs: 50 });
  await createPreexistingJob(e.cluster, { id: 'doomed', image: 'busybox', ...behaviour({ durationMs: -1 }) });
  const event = await waitUntil(() => orphanEvents(events)[0], 'the scan to handle the orphan');
  expect(event).toMatchObject({ kind: 'orphanJob', name: 'doomed', action: 'deleted', phase: 'scan' });
  await waitUntil(() => ourJobs(e.cluster).length === 0, 'the orphan to be gone');
  expect(await orphanCounts(e.runner.metrics)).toEqual({ deleted: 1 });
});

test('the Jobs of tasks added and run while scans go on every few ms are never taken for orphans', async () => {
  const { e, events } = await engine({ orphans: 'delete', orphanScanIntervalMs: 1, maxConcurrentJobs: 8 });
  const lists = jobLists(e);
  const ids = Array.from({ length: 24 }, (_, i) => `busy-${i}`);
  await Promise.all(
    ids.map((id, i) => e.runner.addTask({ id, image: 'busybox', ...behaviour({ durationMs: 20 + (i % 4) * 40 }) })),
  );
  const records = await Promise.all(ids.map((id) => e.runner.waitFor(id)));
  expect(records.map((r) => r.outcome)).toEqual(ids.map(() => 'succeeded'));
  expect(jobLists(e) - lists).toBeGreaterThan(5);
  expect(orphanEvents(events)).toEqual([]);
});

test('orphanScanIntervalMs: 0 looks for orphans at start only', async () => {
  const { e, events } = await engine({ orphanScanIntervalMs: 0 });
  const lists = jobLists(e);
  await createPreexistingJob(e.cluster, { id: 'unseen', image: 'busybox', ...behaviour({ durationMs: -1 }) });
  // A task run to its end takes longer than many 50 ms scans would.
  await e.runner.addTask({ id: 'marker', image: 'busybox', ...behaviour({ durationMs: 200 }) });
  await e.runner.waitFor('marker');
  expect(jobLists(e)).toBe(lists);
  expect(orphanEvents(events)).toEqual([]);
});
