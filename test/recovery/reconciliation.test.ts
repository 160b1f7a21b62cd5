import { BatchV1Api } from '@kubernetes/client-node';
import { firstValueFrom, take, toArray } from 'rxjs';
import { afterEach, expect, test } from 'vitest';
import { DuplicateTaskError, TaskNotFoundError } from '../../src/errors.js';
import type { Transition } from '../../src/types.js';
import { behaviour, creationsByName, ourJobs } from '../engine/harness.js';
import { createPreexistingJob } from '../engine/preexisting-job.js';
import { waitUntil } from '../helpers/wait.js';
import { openTaskStore } from '../../src/store/open-store.js';
import { startRecovery, type Recovery } from './harness.js';

/*
 * Boot reconciliation, one case per test: a first runner (or the store written directly) leaves
 * a task in some state, the cluster is changed while no runner runs, and a second runner on the
 * same SQLite file must bring every task to its one correct end — without a second Job.
 */

let recovery: Recovery | undefined;
afterEach(async () => {
  await recovery?.close();
  recovery = undefined;
});

const forever = behaviour({ durationMs: -1 });
const hasCondition = (type: string) => (job: { status?: unknown }) =>
  ((job.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? []).some(
    (c) => c.type === type && c.status === 'True',
  );

test('queued tasks keep their priority and FIFO order across a restart', async () => {
  recovery = await startRecovery();
  const first = await recovery.start({ maxConcurrentJobs: 1 });
  await first.addTask({ id: 'blocker', image: 'busybox', ...forever });
  await waitUntil(async () => (await first.getTask('blocker')).state === 'running', 'the blocker to run');
  for (const [id, priority] of [
    ['a', 0],
    ['b', 5],
    ['c', 0],
    ['d', 5],
  ] as const)
    await first.addTask({ id, image: 'busybox', priority });
  await first.shutdown({ mode: 'detach' });

  const second = await recovery.start({ maxConcurrentJobs: 1 });
  expect((await second.listTasks({ state: 'queued' })).items.map((r) => r.id).sort()).toEqual(['a', 'b', 'c', 'd']);
  const starts: string[] = [];
  second.transitions$.subscribe((t: Transition) => {
    if (t.to === 'creating') starts.push(t.taskId);
  });
  // The blocker was re-attached and still holds the only slot: nothing queued may start yet.
  expect((await second.getTask('blocker')).state).toBe('running');
  expect(starts).toEqual([]);
  await second.cancel('blocker');
  for (const id of ['a', 'b', 'c', 'd']) expect((await second.waitFor(id)).outcome).toBe('succeeded');
  expect(starts).toEqual(['b', 'd', 'a', 'c']);
  expect(Object.fromEntries(creationsByName(recovery.cluster))).toEqual({ blocker: 1, a: 1, b: 1, c: 1, d: 1 });
});

test('a task left in creating adopts the Job the lost create made (same fingerprint)', async () => {
  recovery = await startRecovery();
  const task = { id: 'made-before-crash', image: 'busybox', ...behaviour({ durationMs: 200, logs: ['hello'] }) };
  await recovery.seed(task, 'creating', { context: { jobMayExist: true, slotHeld: true } });
  await createPreexistingJob(recovery.cluster, task);
  const runner = await recovery.start();
  const record = await runner.waitFor(task.id);
  expect(record).toMatchObject({ state: 'deleted', outcome: 'succeeded' });
  expect(record.jobUid).toBe(recovery.cluster.jobCreations()[0]?.uid);
  expect(Object.fromEntries(creationsByName(recovery.cluster))).toEqual({ [task.id]: 1 });
  expect(await runner.getLogs(task.id)).toContain('hello');
});

test('a task left in creating whose create never reached the cluster creates its Job', async () => {
  recovery = await startRecovery();
  const task = { id: 'never-sent', image: 'busybox' };
  await recovery.seed(task, 'creating', { context: { jobMayExist: true, slotHeld: true } });
  const runner = await recovery.start();
  expect(await runner.waitFor(task.id)).toMatchObject({ state: 'deleted', outcome: 'succeeded' });
  expect(Object.fromEntries(creationsByName(recovery.cluster))).toEqual({ [task.id]: 1 });
  expect(ourJobs(recovery.cluster)).toEqual([]);
});

test('a running task is re-attached after a detach and reaches its outcome with its logs', async () => {
  recovery = await startRecovery();
  const first = await recovery.start();
  await first.addTask({
    id: 'long',
    image: 'busybox',
    ...behaviour({ durationMs: 1500, logs: ['from the first life'] }),
  });
  await waitUntil(async () => (await first.getTask('long')).state === 'running', 'the task to run');
  await first.shutdown({ mode: 'detach' });
  expect(ourJobs(recovery.cluster).map((j) => j.metadata.name)).toEqual(['long']);

  const second = await recovery.start();
  const record = await second.waitFor('long');
  expect(record).toMatchObject({ state: 'deleted', outcome: 'succeeded' });
  expect(await second.getLogs('long')).toContain('from the first life');
  expect(Object.fromEntries(creationsByName(recovery.cluster))).toEqual({ long: 1 });
  expect(ourJobs(recovery.cluster)).toEqual([]);
});

test('a Job that finished while no runner ran gets its outcome recorded and its logs harvested before cleanup', async () => {
  recovery = await startRecovery();
  const first = await recovery.start();
  await first.addTask({
    id: 'finished-offline',
    image: 'busybox',
    ...behaviour({ durationMs: 300, exitCode: 3, logs: ['last words'] }),
  });
  await waitUntil(async () => (await first.getTask('finished-offline')).state === 'running', 'the task to run');
  await first.shutdown({ mode: 'detach' });
  await waitUntil(
    () => recovery?.cluster.objects('jobs').find(hasCondition('Failed')),
    'the Job to fail in the cluster',
  );

  const second = await recovery.start();
  const record = await second.waitFor('finished-offline');
  expect(record).toMatchObject({ state: 'deleted', outcome: 'failed', failure: { exitCode: 3 } });
  expect(await second.getLogs('finished-offline')).toContain('last words');
  expect(ourJobs(recovery.cluster)).toEqual([]);
});

test('a running task whose deadline passed while no runner ran times out at once', async () => {
  recovery = await startRecovery();
  // The Job has no activeDeadlineSeconds (made by hand): only the runner's own timer can end it.
  const task = { id: 'overdue', image: 'busybox', timeout: 1, ...forever };
  const job = await createPreexistingJob(recovery.cluster, task);
  await waitUntil(
    () => recovery?.cluster.objects('jobs').find((j) => (j.status as { startTime?: string } | undefined)?.startTime),
    'the Job to start',
  );
  await recovery.seed(task, 'running', {
    jobUid: job.metadata?.uid ?? '',
    context: { jobMayExist: true, slotHeld: true },
  });
  const started = Date.parse((recovery.cluster.objects('jobs')[0]?.status as { startTime: string }).startTime);
  // timeout (1 s) + the harness's client grace (1 s) after the Job's start.
  await waitUntil(() => Date.now() > started + 2000, 'the deadline to pass', { intervalMs: 50 });
  const runner = await recovery.start();
  expect(await runner.waitFor(task.id)).toMatchObject({ state: 'deleted', outcome: 'timedOut' });
  expect(ourJobs(recovery.cluster)).toEqual([]);
});

test('a Job that completed while no runner ran succeeds although the deadlines stored before the stop are past', async () => {
  recovery = await startRecovery();
  const task = { id: 'done-while-away', image: 'busybox', timeout: 1, ...behaviour({ logs: ['ok'] }) };
  const job = await createPreexistingJob(recovery.cluster, task);
  await waitUntil(
    () => recovery?.cluster.objects('jobs').find(hasCondition('Complete')),
    'the Job to complete in the cluster',
  );
  const past = Date.now() - 60_000;
  await recovery.seed(task, 'running', {
    jobUid: job.metadata?.uid ?? '',
    context: {
      jobMayExist: true,
      slotHeld: true,
      timeoutAt: past,
      pendingUntil: past,
      stuckAt: { at: past, failure: { reason: 'PendingTimeout', message: 'stale', events: [], lastLogLines: [] } },
    },
  });
  const runner = await recovery.start();
  expect(await runner.waitFor(task.id)).toMatchObject({ state: 'deleted', outcome: 'succeeded' });
});

test('a task left in deleting deletes its Job again; an already absent Job counts as deleted', async () => {
  recovery = await startRecovery();
  const present = { id: 'still-there', image: 'busybox', ...forever };
  const job = await createPreexistingJob(recovery.cluster, present);
  await recovery.seed(present, 'deleting', {
    jobUid: job.metadata?.uid ?? '',
    outcome: 'cancelled',
    failure: { reason: 'Cancelled', message: 'cancelled', events: [], lastLogLines: [] },
    context: { jobMayExist: true, slotHeld: true },
  });
  await recovery.seed({ id: 'already-gone', image: 'busybox' }, 'deleting', {
    jobUid: 'uid-of-a-deleted-job',
    outcome: 'succeeded',
    seq: 1,
    context: { jobMayExist: true, jobFinished: true },
  });
  const runner = await recovery.start();
  expect(await runner.waitFor('still-there')).toMatchObject({ state: 'deleted', outcome: 'cancelled' });
  expect(await runner.waitFor('already-gone')).toMatchObject({ state: 'deleted', outcome: 'succeeded' });
  expect(ourJobs(recovery.cluster)).toEqual([]);
});

test('a running task whose Job was deleted behind our back ends failed with JobVanished', async () => {
  recovery = await startRecovery();
  const first = await recovery.start();
  await first.addTask({ id: 'vanishing', image: 'busybox', ...forever });
  await waitUntil(async () => (await first.getTask('vanishing')).state === 'running', 'the task to run');
  await first.shutdown({ mode: 'detach' });
  await recovery.cluster.kubeConfig
    .makeApiClient(BatchV1Api)
    .deleteNamespacedJob({ name: 'vanishing', namespace: 'default', propagationPolicy: 'Background' });
  await waitUntil(() => ourJobs(recovery!.cluster).length === 0, 'the Job to be gone');

  const second = await recovery.start();
  const record = await second.waitFor('vanishing');
  expect(record).toMatchObject({ state: 'deleted', outcome: 'failed', failure: { reason: 'JobVanished' } });
  expect(Object.fromEntries(creationsByName(recovery.cluster))).toEqual({ vanishing: 1 });
}, 30_000);

test('a Job with our label but no task in the store is reported as an orphan and left alone by default', async () => {
  recovery = await startRecovery();
  await createPreexistingJob(recovery.cluster, { id: 'nobody-knows', image: 'busybox', ...forever });
  const runner = await recovery.start();
  const [event] = await firstValueFrom(runner.events$.pipe(take(1), toArray()));
  expect(event).toMatchObject({ kind: 'orphanJob', name: 'nobody-knows', taskId: 'nobody-knows', action: 'reported' });
  expect(event?.kind === 'orphanJob' ? event.uid : undefined).toBe(recovery.cluster.jobCreations()[0]?.uid);
  expect(ourJobs(recovery.cluster).map((j) => j.metadata.name)).toEqual(['nobody-knows']);
});

test("with orphans: 'delete' an orphan Job is reported and deleted", async () => {
  recovery = await startRecovery();
  await createPreexistingJob(recovery.cluster, { id: 'stray', image: 'busybox', ...forever });
  const runner = await recovery.start({ orphans: 'delete' });
  const [event] = await firstValueFrom(runner.events$.pipe(take(1), toArray()));
  expect(event).toMatchObject({ kind: 'orphanJob', name: 'stray', action: 'deleted' });
  await waitUntil(() => ourJobs(recovery!.cluster).length === 0, 'the orphan to be gone');
});

test('duplicate ids are still detected after a restart', async () => {
  recovery = await startRecovery();
  const first = await recovery.start();
  await first.addTask({ id: 'once', image: 'busybox' });
  await first.waitFor('once');
  await first.shutdown();
  const second = await recovery.start();
  await expect(second.addTask({ id: 'once', image: 'alpine' })).rejects.toBeInstanceOf(DuplicateTaskError);
  expect(await second.addTask({ id: 'once', image: 'busybox' })).toMatchObject({
    id: 'once',
    state: 'deleted',
    outcome: 'succeeded',
  });
  expect(Object.fromEntries(creationsByName(recovery.cluster))).toEqual({ once: 1 });
});

test('waitFor and getLogs answer for a task that finished before this runner started', async () => {
  recovery = await startRecovery();
  const first = await recovery.start();
  await first.addTask({ id: 'earlier', image: 'busybox', ...behaviour({ logs: ['from the first run'] }) });
  await first.waitFor('earlier');
  await first.shutdown();
  const second = await recovery.start();
  expect(await second.waitFor('earlier')).toMatchObject({ id: 'earlier', state: 'deleted', outcome: 'succeeded' });
  expect(await second.getLogs('earlier')).toContain('from the first run');
});

test('cancel of a finished task resolves and leaves it as it is, whether it finished before this runner started or in it; an unknown id is TaskNotFoundError', async () => {
  recovery = await startRecovery();
  const first = await recovery.start();
  await first.addTask({ id: 'finished-earlier', image: 'busybox' });
  const earlier = await first.waitFor('finished-earlier');
  await first.shutdown();

  const second = await recovery.start();
  await second.addTask({ id: 'finished-here', image: 'busybox' });
  const here = await second.waitFor('finished-here');
  await expect(second.cancel('finished-earlier')).resolves.toBeUndefined();
  await expect(second.cancel('finished-here')).resolves.toBeUndefined();
  await expect(second.cancel('never-added')).rejects.toBeInstanceOf(TaskNotFoundError);
  expect(await second.getTask('finished-earlier')).toEqual(earlier);
  expect(await second.getTask('finished-here')).toEqual(here);
  await second.shutdown();
  const store = await openTaskStore(recovery.storeUrl);
  try {
    expect((await store.getTransitions('finished-earlier')).map((t) => t.to)).toEqual([
      'queued',
      'creating',
      'running',
      'succeeded',
      'deleting',
      'deleted',
    ]);
    expect((await store.getTransitions('finished-here')).map((t) => t.to)).toEqual([
      'queued',
      'creating',
      'running',
      'succeeded',
      'deleting',
      'deleted',
    ]);
  } finally {
    await store.close();
  }
});

test("with orphans: 'adopt' an orphan Job becomes a stored task, watched to its outcome, logs harvested, cleaned up", async () => {
  recovery = await startRecovery();
  const orphan = {
    id: 'left-behind',
    image: 'busybox',
    command: ['sh', '-c', 'work'],
    ...behaviour({ durationMs: 300, logs: ['adopted output'] }),
  };
  await createPreexistingJob(recovery.cluster, orphan);
  const runner = await recovery.start({ orphans: 'adopt' });
  const [event] = await firstValueFrom(runner.events$.pipe(take(1), toArray()));
  expect(event).toMatchObject({ kind: 'orphanJob', name: 'left-behind', taskId: 'left-behind', action: 'adopted' });
  expect(event?.kind === 'orphanJob' ? event.error : 'not an orphan event').toBeUndefined();
  const record = await runner.waitFor('left-behind');
  expect(record).toMatchObject({
    state: 'deleted',
    outcome: 'succeeded',
    jobName: 'left-behind',
    spec: { id: 'left-behind', image: 'busybox' },
  });
  expect(record.jobUid).toBe(recovery.cluster.jobCreations()[0]?.uid);
  expect(await runner.getLogs('left-behind')).toContain('adopted output');
  expect(Object.fromEntries(creationsByName(recovery.cluster))).toEqual({ 'left-behind': 1 });
  expect(ourJobs(recovery.cluster)).toEqual([]);
  await runner.shutdown();
  // Stored durably: a later runner knows the task, so its id is no longer free.
  const later = await recovery.start();
  expect(await later.getTask('left-behind')).toMatchObject({ state: 'deleted', outcome: 'succeeded' });
});

test("with jobVanished: 'retry' a Job deleted while no runner ran is re-created once and the task succeeds", async () => {
  recovery = await startRecovery();
  const first = await recovery.start();
  await first.addTask({ id: 'recreated', image: 'busybox', ...behaviour({ durationMs: 1500, logs: ['second life'] }) });
  await waitUntil(async () => (await first.getTask('recreated')).state === 'running', 'the task to run');
  await first.shutdown({ mode: 'detach' });
  await recovery.cluster.kubeConfig
    .makeApiClient(BatchV1Api)
    .deleteNamespacedJob({ name: 'recreated', namespace: 'default', propagationPolicy: 'Background' });
  await waitUntil(() => ourJobs(recovery!.cluster).length === 0, 'the Job to be gone');

  const second = await recovery.start({ jobVanished: 'retry' });
  const record = await second.waitFor('recreated');
  expect(record).toMatchObject({ state: 'deleted', outcome: 'succeeded' });
  expect(record.failure).toBeUndefined();
  expect(await second.getLogs('recreated')).toContain('second life');
  expect(Object.fromEntries(creationsByName(recovery.cluster))).toEqual({ recreated: 2 });
  expect(ourJobs(recovery.cluster)).toEqual([]);
  await second.shutdown();
  const store = await openTaskStore(recovery.storeUrl);
  try {
    const path = (await store.getTransitions('recreated')).map((t) => t.to);
    expect(path).toEqual(['queued', 'creating', 'running', 'creating', 'running', 'succeeded', 'deleting', 'deleted']);
  } finally {
    await store.close();
  }
}, 30_000);

test("with jobVanished: 'retry' a Job deleted while the runner watches is re-created, not mistaken for the deleted one", async () => {
  recovery = await startRecovery();
  const runner = await recovery.start({ jobVanished: 'retry' });
  await runner.addTask({ id: 'deleted-live', image: 'busybox', ...behaviour({ durationMs: 1500 }) });
  await waitUntil(async () => (await runner.getTask('deleted-live')).state === 'running', 'the task to run');
  await recovery.cluster.kubeConfig
    .makeApiClient(BatchV1Api)
    .deleteNamespacedJob({ name: 'deleted-live', namespace: 'default', propagationPolicy: 'Background' });
  expect(await runner.waitFor('deleted-live')).toMatchObject({ state: 'deleted', outcome: 'succeeded' });
  expect(Object.fromEntries(creationsByName(recovery.cluster))).toEqual({ 'deleted-live': 2 });
  expect(ourJobs(recovery.cluster)).toEqual([]);
}, 30_000);

test('listTasks lists tasks finished before this runner started, next to the open ones', async () => {
  recovery = await startRecovery();
  const first = await recovery.start();
  await first.addTask({ id: 'done-before', image: 'busybox' });
  await first.waitFor('done-before');
  await first.shutdown();

  const second = await recovery.start({ maxConcurrentJobs: 1 });
  await second.addTask({ id: 'blocker', image: 'busybox', ...forever });
  await second.addTask({ id: 'waiting', image: 'busybox' });
  // Newest first (the two added last may share a millisecond, and then come by id).
  const listed = (await second.listTasks()).items.map((r) => [r.id, r.state === 'deleted' ? 'deleted' : 'open']);
  expect(listed.at(-1)).toEqual(['done-before', 'deleted']);
  expect(listed.slice(0, 2).sort()).toEqual([
    ['blocker', 'open'],
    ['waiting', 'open'],
  ]);
  expect((await second.listTasks({ state: 'deleted' })).items.map((r) => r.outcome)).toEqual(['succeeded']);
  expect((await second.listTasks({ outcome: 'succeeded' })).items.map((r) => r.id)).toEqual(['done-before']);
  expect((await second.listTasks({ state: 'queued' })).items.map((r) => r.id)).toEqual(['waiting']);
  await second.cancel('blocker');
});
