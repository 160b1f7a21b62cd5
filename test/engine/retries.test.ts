import { afterEach, expect, test } from 'vitest';
import { defaultScript, type ContainerScript } from '../../src/sim/index.js';
import type { Transition } from '../../src/types.js';
import { parseQuantity } from '../../src/validation/quantity.js';
import { waitUntil } from '../helpers/wait.js';
import { behaviour, ourJobs, startEngine, type Engine } from './harness.js';

/*
 * Retries by reason against the sim: a disrupted pod is replaced by the Job itself
 * (`podFailurePolicy` Ignore on DisruptionTarget, not counted against backoffLimit) within
 * `retry.disruptions`, and fails the task past it; an out-of-memory kill is retried with a new Job
 * with more memory; a pull error that may pass is retried with a new Job. Every retry is on the
 * record (`retries`, `attempt`) and on `transitions$`.
 */

let engine: Engine | undefined;
afterEach(async () => {
  await engine?.close();
  engine = undefined;
});

/** The transitions of `taskId` published while `run` runs. */
function recordTransitions(e: Engine): Transition[] {
  const seen: Transition[] = [];
  e.runner.transitions$.subscribe((t) => seen.push(t));
  return seen;
}

/** The running pod of a task's Job, once there is one. */
async function runningPod(e: Engine, jobName: string, except: string[] = []): Promise<string> {
  return waitUntil(
    () =>
      e.cluster
        .objects('pods')
        .find(
          (p) =>
            p.metadata.labels?.['batch.kubernetes.io/job-name'] === jobName &&
            p.status?.phase === 'Running' &&
            !except.includes(p.metadata.name),
        )?.metadata.name,
    `a running pod of ${jobName}`,
  );
}

test('an evicted pod is replaced by the Job and the task succeeds; the disruption is on the record and transitions$', async () => {
  engine = await startEngine();
  const seen = recordTransitions(engine);
  await engine.runner.addTask({ id: 'evicted', image: 'busybox', ...behaviour({ durationMs: 1500 }) });
  const first = await runningPod(engine, 'evicted');
  engine.cluster.faults.evictPod(first, { namespace: 'default', reason: 'Evicted' });
  const done = await engine.runner.waitFor('evicted');
  expect(done.outcome).toBe('succeeded');
  expect(done.attempt ?? 1).toBe(1);
  expect(done.retries).toEqual([
    expect.objectContaining({
      reason: 'disruption',
      action: 'podReplaced',
      attempt: 1,
      jobName: 'evicted',
      podName: first,
      message: expect.stringContaining('EvictionByEvictionAPI'),
    }),
  ]);
  // The Job itself replaced the pod: one Job, backoffLimit 0 not spent.
  expect(engine.cluster.jobCreations().filter((c) => c.name === 'evicted')).toHaveLength(1);
  const retried = seen.filter((t) => t.taskId === 'evicted' && t.retry);
  expect(retried).toEqual([expect.objectContaining({ from: 'running', to: 'running' })]);
  expect(retried[0]?.retry?.podName).toBe(first);
});

test('past retry.disruptions the task fails with DisruptionLimitExceeded', async () => {
  engine = await startEngine();
  await engine.runner.addTask({
    id: 'unlucky',
    image: 'busybox',
    retry: { disruptions: 1 },
    ...behaviour({ durationMs: 5000 }),
  });
  const first = await runningPod(engine, 'unlucky');
  engine.cluster.faults.evictPod(first, { namespace: 'default', reason: 'Preempted' });
  const second = await runningPod(engine, 'unlucky', [first]);
  engine.cluster.faults.evictPod(second, { namespace: 'default', reason: 'NodeLost' });
  const done = await engine.runner.waitFor('unlucky');
  expect(done.outcome).toBe('failed');
  expect(done.failure?.reason).toBe('DisruptionLimitExceeded');
  expect(done.failure?.message).toContain('DeletionByTaintManager');
  expect(done.retries?.map((r) => r.podName)).toEqual([first, second]);
});

/** A container runs out of memory below 128Mi (the scripted kubelet's stand-in for a memory-hungry job). */
const hungry: ContainerScript = (pod, container, context) => {
  const limit = (container.resources as { limits?: { memory?: string } } | undefined)?.limits?.memory;
  const bytes = limit === undefined ? Infinity : (parseQuantity(limit) ?? Infinity);
  return bytes < 128 * 2 ** 20 ? { durationMs: 20, oomKilled: true } : defaultScript(pod, container, context);
};

test('OOMKilled is retried with a new Job with twice the memory, up to maxMemory', async () => {
  engine = await startEngine({ cluster: { kubelet: { runtime: 'scripted', script: hungry } } });
  const seen = recordTransitions(engine);
  await engine.runner.addTask({
    id: 'hungry',
    image: 'busybox',
    resources: { requests: { memory: '48Mi' }, limits: { memory: '48Mi' } },
    retry: { oomKilled: { attempts: 3, memoryFactor: 2, maxMemory: '160Mi' } },
  });
  const done = await engine.runner.waitFor('hungry');
  expect(done.outcome).toBe('succeeded');
  expect(done.attempt).toBe(3);
  expect(done.retries?.map((r) => [r.reason, r.action, r.attempt, r.memory])).toEqual([
    ['oomKilled', 'newJob', 1, '96Mi'],
    ['oomKilled', 'newJob', 2, '160Mi'],
  ]);
  // Each attempt its own Job, with its memory; all three deleted.
  const created = engine.cluster.jobCreations().map((c) => c.name);
  expect(created).toHaveLength(3);
  expect(created[0]).toBe('hungry');
  expect(new Set(created).size).toBe(3);
  expect(done.jobName).toBe(created[2]);
  expect(ourJobs(engine.cluster)).toHaveLength(0);
  const path = seen.filter((t) => t.taskId === 'hungry' && t.from !== t.to).map((t) => `${t.from}→${t.to}`);
  expect(path).toEqual([
    'null→queued',
    'queued→creating',
    'creating→running',
    'running→retrying',
    'retrying→queued',
    'queued→creating',
    'creating→running',
    'running→retrying',
    'retrying→queued',
    'queued→creating',
    'creating→running',
    'running→succeeded',
    'succeeded→deleting',
    'deleting→deleted',
  ]);
  // Each retry published once, with the change of state it causes.
  const retried = seen
    .filter((t) => t.taskId === 'hungry' && t.retry)
    .map((t) => `${t.from}→${t.to} ${t.retry?.attempt}`);
  expect(retried).toEqual(['running→retrying 1', 'running→retrying 2']);
});

test('OOMKilled without oomKilled attempts fails at once, as before', async () => {
  engine = await startEngine({ cluster: { kubelet: { runtime: 'scripted', script: hungry } } });
  await engine.runner.addTask({ id: 'starved', image: 'busybox', resources: { limits: { memory: '48Mi' } } });
  const done = await engine.runner.waitFor('starved');
  expect(done.outcome).toBe('failed');
  expect(done.failure).toMatchObject({ reason: 'BackoffLimitExceeded', oomKilled: true });
  expect(done.retries).toBeUndefined();
});

test('a pull error that may pass is retried with a new Job (retry.imagePull)', async () => {
  // The first Job's pulls are throttled for good; the next Job's pull works.
  const throttledFirst: ContainerScript = (pod, container, context) =>
    pod.metadata.labels?.['batch.kubernetes.io/job-name'] === 'pulled'
      ? { pull: 'throttled' }
      : defaultScript(pod, container, context);
  engine = await startEngine({ cluster: { kubelet: { runtime: 'scripted', script: throttledFirst } } });
  await engine.runner.addTask({ id: 'pulled', image: 'busybox' });
  const done = await engine.runner.waitFor('pulled');
  expect(done.failure).toBeUndefined();
  expect(done.outcome).toBe('succeeded');
  expect(done.attempt).toBe(2);
  expect(done.retries).toEqual([
    expect.objectContaining({ reason: 'imagePull', action: 'newJob', attempt: 1, jobName: 'pulled' }),
  ]);
});

test('the Job carries podFailurePolicy Ignore on DisruptionTarget; none with retry.disruptions 0', async () => {
  engine = await startEngine();
  await engine.runner.addTask({ id: 'policy', image: 'busybox', ...behaviour({ durationMs: 2000 }) });
  await engine.runner.addTask({
    id: 'no-policy',
    image: 'busybox',
    retry: { disruptions: 0 },
    ...behaviour({ durationMs: 2000 }),
  });
  const job = (name: string) => waitUntil(() => ourJobs(engine!.cluster).find((j) => j.metadata.name === name), name);
  expect((await job('policy')).spec?.['podFailurePolicy']).toEqual({
    rules: [{ action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] }],
  });
  expect((await job('no-policy')).spec?.['podFailurePolicy']).toBeUndefined();
});
