import { afterEach, expect, test } from 'vitest';
import { taskIdAnnotation } from '../../src/jobs/labels.js';
import { createRunner } from '../../src/runner/create-runner.js';
import type { Runner } from '../../src/runner/runner-api.js';
import type { RunnerEvent } from '../../src/runner/runner-events.js';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import { behaviour, testStuckPolicy } from '../engine/harness.js';
import { kubeConfigWithToken } from '../engine/rbac-mode.js';
import { waitUntil } from '../helpers/wait.js';
import { dropSchemas, postgresStoreUrl, randomSchema } from '../store/harnesses.js';

/*
 * Fencing: a deposed leader with requests still in flight must never make a second Job for a
 * task. The sim holds every request of replica A (told apart by its bearer token) for 8 s — its
 * Lease renewals and its Job create alike — so A misses its renew deadline and stops leading
 * while its create is still held, and B takes over and runs the task. A's held create must not
 * land afterwards: A aborts its in-flight calls when it stops leading, and a request whose
 * client went away is not served (as the apiserver drops a request whose context is cancelled).
 */

const election = { leaseName: 'k8s-jobs', leaseDurationSeconds: 2, renewDeadlineSeconds: 1.5, retryPeriodSeconds: 0.5 };
const heldMs = 8000;

let cluster: SimulatedCluster | undefined;
let schema: string | undefined;
const runners: Runner[] = [];

afterEach(async () => {
  await Promise.allSettled(runners.splice(0).map((r) => r.shutdown()));
  await cluster?.close();
  if (schema) await dropSchemas([schema]);
});

async function replica(token: string, store: string): Promise<Runner> {
  if (!cluster) throw new Error('no cluster');
  const runner = await createRunner({
    kubeConfig: kubeConfigWithToken(cluster, token),
    namespace: 'default',
    store,
    rateLimit: { qps: 1000, burst: 100 },
    clientTimeoutGraceMs: 1000,
    stuck: testStuckPolicy,
    leaderElection: { ...election, identity: token },
  });
  runners.push(runner);
  return runner;
}

test("a deposed leader's held Job create never lands: one Job for the task, made by the new leader", async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { runtime: 'scripted' } });
  schema = randomSchema('k8s_jobs_fencing');
  const store = postgresStoreUrl(schema);
  const a = await replica('replica-a', store);
  await waitUntil(() => a.health().leader?.leading, 'A leading', { timeoutMs: 10_000 });
  const b = await replica('replica-b', store);
  const aEvents: RunnerEvent[] = [];
  a.events$.subscribe((e) => aEvents.push(e));

  // From now on A's requests wait 8 s: longer than its renew deadline and its lease.
  cluster.faults.delayRequests({ token: 'replica-a', ms: heldMs });
  const heldSince = Date.now();
  await b.addTask({ id: 'fenced', image: 'busybox', ...behaviour({ durationMs: 300 }) });
  const done = await b.waitFor('fenced', { timeoutMs: 30_000 });
  expect(done.outcome).toBe('succeeded');
  expect(b.health().leader?.leading).toBe(true);
  expect(aEvents).toContainEqual(
    expect.objectContaining({ kind: 'leadership', change: 'stoppedLeading', reason: 'renewDeadline' }),
  );
  // Past the hold of anything A sent while it led: nothing of it may have landed since.
  await waitUntil(() => Date.now() - heldSince > heldMs + 1000, 'the held requests released', {
    timeoutMs: heldMs + 5000,
    intervalMs: 100,
  });
  const creations = cluster.jobCreations().filter((c) => c.annotations[taskIdAnnotation] === 'fenced');
  expect(creations.map((c) => c.uid)).toHaveLength(1);
  // A did send its create (held, then dropped): the case this test is about happened.
  const held = cluster.faults
    .injected()
    .filter((f) => f.kind === 'latency')
    .map((f) => f.request);
  expect(held).toContain('create jobs');
  const jobsLeft = cluster.objects('jobs', 'default').filter((j) => j.metadata.name?.includes('fenced'));
  expect(jobsLeft).toEqual([]);
}, 60_000);
