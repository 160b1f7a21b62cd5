import { BatchV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { behaviour, creationsByName, ourJobs, startEngine, type Engine } from './harness.js';
import { createPreexistingJob } from './preexisting-job.js';

/*
 * A Job already under the task's name: ours (same fingerprint — e.g. a create whose answer was
 * lost, or a runner that restarted) is adopted; anyone else's is refused and left alone.
 */

let engine: Engine;
beforeAll(async () => {
  engine = await startEngine();
});
afterAll(async () => {
  await engine.close();
});

test('a pre-existing Job with the same name and fingerprint is adopted: one Job, and the task succeeds', async () => {
  const { runner, cluster } = engine;
  const task = { id: 'adopt-me', image: 'busybox', ...behaviour({ durationMs: 30, logs: ['adopted'] }) };
  const existing = await createPreexistingJob(cluster, task);
  await runner.addTask(task);
  const record = await runner.waitFor('adopt-me');
  expect(record).toMatchObject({ state: 'deleted', outcome: 'succeeded', jobUid: existing.metadata?.uid });
  // The runner's create was answered 409 and nothing else was created; the adopted Job was cleaned up.
  expect(creationsByName(cluster).get('adopt-me')).toBe(1);
  expect(
    cluster
      .requests()
      .filter((r) => r.verb === 'create' && r.resource === 'jobs')
      .map((r) => r.status),
  ).toEqual([201, 409]);
  expect(ourJobs(cluster)).toEqual([]);
});

test('a pre-existing Job with the same name and another fingerprint is refused with JobConflict and left in place', async () => {
  const { runner, cluster } = engine;
  const task = { id: 'not-mine', image: 'busybox', ...behaviour({ durationMs: -1 }) };
  const foreign = await createPreexistingJob(cluster, task, { fingerprint: 'sha256:someone-else' });
  await runner.addTask(task);
  const record = await runner.waitFor('not-mine');
  expect(record).toMatchObject({ state: 'deleted', outcome: 'failed', failure: { reason: 'JobConflict' } });
  expect(record.failure?.message).toContain('not-mine');
  expect(record.jobUid).toBeUndefined();
  // Not ours, so not deleted: the foreign Job is still there, and nothing else was created.
  expect(ourJobs(cluster).map((j) => j.metadata.uid)).toEqual([foreign.metadata?.uid]);
  expect(
    cluster.requests().filter((r) => r.verb === 'delete' && r.resource === 'jobs' && r.name === 'not-mine'),
  ).toEqual([]);
  expect(creationsByName(cluster).get('not-mine')).toBe(1);
  await cluster.kubeConfig
    .makeApiClient(BatchV1Api)
    .deleteNamespacedJob({ name: 'not-mine', namespace: 'default', propagationPolicy: 'Background' });
  expect(ourJobs(cluster)).toEqual([]);
});
