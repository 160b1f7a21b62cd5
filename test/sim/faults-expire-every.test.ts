import { BatchV1Api, Watch } from '@kubernetes/client-node';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import { waitUntil } from '../helpers/wait.js';

/*
 * `expireWatchesEvery`: the forced 410 on a timer that the fault soak (test/soak/) runs with. A
 * client that resumes from the last resourceVersion it saw gets `ERROR 410 Expired`, every time,
 * and so does the first resume after ticks that found nobody watching.
 */

let cluster: SimulatedCluster;
let batch: BatchV1Api;

beforeAll(async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { enabled: false } });
  batch = cluster.kubeConfig.makeApiClient(BatchV1Api);
});
afterAll(async () => cluster.close());

type Event = { type: string; obj: { code?: number; reason?: string } };

/** A client-node watch on Jobs from `resourceVersion`; `ended` resolves when the stream ends. */
async function watchJobs(resourceVersion: string): Promise<{ events: Event[]; ended: Promise<unknown> }> {
  const events: Event[] = [];
  let end!: (err: unknown) => void;
  const ended = new Promise<unknown>((resolve) => (end = resolve));
  await new Watch(cluster.kubeConfig).watch(
    '/apis/batch/v1/namespaces/default/jobs',
    { resourceVersion },
    (type, obj: Event['obj']) => events.push({ type, obj }),
    (err) => end(err),
  );
  return { events, ended };
}

test('expireWatchesEvery cuts every open watch on each tick and answers its resume with 410, until turned off', async () => {
  const list = await batch.listNamespacedJob({ namespace: 'default' });
  const rv = list.metadata?.resourceVersion ?? '';
  const before = cluster.faults.counts().watchesExpired;
  // Open before the ticks start, so the first tick finds it.
  const open = await watchJobs(rv);
  cluster.faults.expireWatchesEvery(30, { resources: ['jobs'] });
  expect(await open.ended, 'the open watch is cut').toBeTruthy();
  const resumed = await watchJobs(rv);
  expect(await resumed.ended).toBeNull();
  expect(resumed.events).toEqual([{ type: 'ERROR', obj: expect.objectContaining({ code: 410, reason: 'Expired' }) }]);
  cluster.faults.expireWatchesEvery(undefined);
  cluster.faults.clear();
  expect(cluster.faults.counts().watchesExpired).toBe(before + 1);
  // Off: a watch stays open across what would have been several ticks.
  const kept = await watchJobs(rv);
  let endedEarly = false;
  void kept.ended.then(() => (endedEarly = true));
  await new Promise((resolve) => setTimeout(resolve, 150));
  expect(endedEarly).toBe(false);
  expect(cluster.faults.counts()).toMatchObject({ watchesExpired: before + 1, watchesDropped: 0 });
  await waitUntil(() => cluster.stats().openWatches === 1, 'the watch still open');
});

test('ticks with no watch open (a client restarting) leave one expiry for the next resume, one at most', async () => {
  const list = await batch.listNamespacedJob({ namespace: 'default' });
  const rv = list.metadata?.resourceVersion ?? '';
  cluster.faults.dropWatches();
  await waitUntil(() => cluster.stats().openWatches === 0, 'no watch open');
  const before = cluster.faults.counts().watchesExpired;
  cluster.faults.expireWatchesEvery(20, { resources: ['jobs'] });
  // Several ticks with nobody watching.
  await new Promise((resolve) => setTimeout(resolve, 150));
  cluster.faults.expireWatchesEvery(undefined);
  const first = await watchJobs(rv);
  const stillOpen = new Promise((resolve) => setTimeout(() => resolve('still open after 2 s'), 2000));
  expect(await Promise.race([first.ended, stillOpen])).toBeNull();
  expect(first.events).toEqual([{ type: 'ERROR', obj: expect.objectContaining({ code: 410, reason: 'Expired' }) }]);
  // Only one was left however many ticks passed: the next resume is served.
  const second = await watchJobs(rv);
  let endedEarly = false;
  void second.ended.then(() => (endedEarly = true));
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(endedEarly).toBe(false);
  expect(cluster.faults.counts().watchesExpired).toBe(before + 1);
  cluster.faults.dropWatches();
});

test('refuses a period that is not positive', () => {
  expect(() => cluster.faults.expireWatchesEvery(0)).toThrow(RangeError);
});
