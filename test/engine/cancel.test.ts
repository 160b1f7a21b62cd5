import { afterEach, expect, test } from 'vitest';
import type { ClusterChange } from '../../src/sim/index.js';
import type { TaskRecord, Transition } from '../../src/types.js';
import { waitUntil } from '../helpers/wait.js';
import { behaviour, creationsByName, ourJobs, startEngine, type Engine } from './harness.js';

/*
 * cancel() in each state a task can be in before it ends. With one slot, a second task waits
 * behind the cancelled one, so the order of the sim's changes shows that the slot was held
 * until the cancelled task's Job was gone.
 */

let engine: Engine | undefined;
afterEach(async () => {
  await engine?.close();
  engine = undefined;
});

const forever = behaviour({ durationMs: -1 });

/** Every ADDED/DELETED of our Jobs, and the first change marking one for deletion, in the order the sim stored them. */
function recordJobLifecycles(e: Engine): { events: string[]; stop(): void } {
  const events: string[] = [];
  const terminating = new Set<string>();
  const stop = e.cluster.onChange(({ resource, type, object }: ClusterChange) => {
    if (resource !== 'jobs') return;
    const name = object.metadata.name ?? '';
    if (type !== 'MODIFIED') events.push(`${type} ${name}`);
    else if (object.metadata.deletionTimestamp && !terminating.has(name)) {
      terminating.add(name);
      events.push(`TERMINATING ${name}`);
    }
  });
  return { events, stop };
}

/** The path (`from>to`) each task took, from the runner's transition stream. */
function recordPaths(e: Engine): { path(taskId: string): string[]; stop(): void } {
  const seen: Transition[] = [];
  const subscription = e.runner.transitions$.subscribe((t) => seen.push(t));
  return {
    path: (taskId) => seen.filter((t) => t.taskId === taskId).map((t) => `${t.from ?? 'null'}>${t.to}`),
    stop: () => subscription.unsubscribe(),
  };
}

function expectCancelled(record: TaskRecord): void {
  expect(record).toMatchObject({ state: 'deleted', outcome: 'cancelled', failure: { reason: 'Cancelled' } });
}

test('cancelling a queued task ends it as cancelled without ever creating its Job', async () => {
  engine = await startEngine({ runner: { maxConcurrentJobs: 1 } });
  const { runner, cluster } = engine;
  const paths = recordPaths(engine);
  await runner.addTask({ id: 'running', image: 'busybox', ...forever });
  await runner.addTask({ id: 'queued', image: 'busybox', ...forever });
  await waitUntil(async () => (await runner.getTask('running')).state === 'running', 'the first task to run');
  expect((await runner.getTask('queued')).state).toBe('queued');
  await runner.cancel('queued');
  const record = await runner.waitFor('queued');
  expectCancelled(record);
  expect(record.jobUid).toBeUndefined();
  expect(paths.path('queued')).toEqual(['null>queued', 'queued>cancelled', 'cancelled>deleted']);
  paths.stop();
  await runner.cancel('running');
  expectCancelled(await runner.waitFor('running'));
  expect(Object.fromEntries(creationsByName(cluster))).toEqual({ running: 1 });
  expect(ourJobs(cluster)).toEqual([]);
});

test('a task cancelled as soon as its addTask resolves never starts', async () => {
  engine = await startEngine({ runner: { maxConcurrentJobs: 1 } });
  const { runner, cluster } = engine;
  await runner.addTask({ id: 'running', image: 'busybox', ...forever });
  // The runner hands the tasks made durable in one turn to its supervisor together: the cancel
  // must still reach the supervisor after the task it cancels, not before (and be ignored).
  await Promise.all(['a', 'b', 'c'].map((id) => runner.addTask({ id, image: 'busybox', ...forever })));
  await runner.cancel('b');
  await runner.cancel('running');
  await runner.cancel('a');
  for (const id of ['running', 'a', 'b']) expectCancelled(await runner.waitFor(id));
  await waitUntil(async () => (await runner.getTask('c')).state === 'running', 'c to run');
  await runner.cancel('c');
  expectCancelled(await runner.waitFor('c'));
  expect(Object.fromEntries(creationsByName(cluster))).toEqual({ running: 1, c: 1 });
});

test('cancelling a task mid-create waits for the create, then deletes the Job; the slot is held until it is gone', async () => {
  engine = await startEngine({ runner: { maxConcurrentJobs: 1 } });
  const { runner, cluster } = engine;
  const lifecycles = recordJobLifecycles(engine);
  const paths = recordPaths(engine);
  // The create reaches the API server and is held there, so the cancel lands while it is in flight.
  const slowCreate = cluster.faults.delayRequests({ verbs: ['create'], resources: ['jobs'], ms: 300, times: 1 });
  await runner.addTask({ id: 'mid-create', image: 'busybox', ...forever });
  await runner.addTask({ id: 'next', image: 'busybox', ...behaviour({ durationMs: 10 }) });
  await waitUntil(() => slowCreate.hits === 1, 'the create request to reach the API server');
  expect((await runner.getTask('mid-create')).state).toBe('creating');
  await runner.cancel('mid-create');
  const record = await runner.waitFor('mid-create');
  expectCancelled(record);
  // The create succeeded in the cluster: the task knows its Job, and deleted it.
  expect(record.jobUid).toBe(cluster.jobCreations().find((c) => c.name === 'mid-create')?.uid);
  // Cancelled while creating: it went from creating to cancelled (on the create's answer), never running.
  expect(paths.path('mid-create')).toEqual([
    'null>queued',
    'queued>creating',
    'creating>cancelled',
    'cancelled>deleting',
    'deleting>deleted',
  ]);
  paths.stop();
  expect((await runner.waitFor('next')).outcome).toBe('succeeded');
  lifecycles.stop();
  expect(lifecycles.events).toEqual(['ADDED mid-create', 'DELETED mid-create', 'ADDED next', 'DELETED next']);
  expect(Object.fromEntries(creationsByName(cluster))).toEqual({ 'mid-create': 1, next: 1 });
  expect(ourJobs(cluster)).toEqual([]);
});

test('cancelling a running task deletes its Job; the slot is held until the Job is gone', async () => {
  // Foreground deletion keeps the Job until its pod has terminated: a wide window for a slot freed too early.
  engine = await startEngine({ runner: { maxConcurrentJobs: 1, cleanup: { propagationPolicy: 'Foreground' } } });
  const { runner, cluster } = engine;
  const lifecycles = recordJobLifecycles(engine);
  const paths = recordPaths(engine);
  await runner.addTask({ id: 'long', image: 'busybox', ...forever });
  await runner.addTask({ id: 'next', image: 'busybox', ...behaviour({ durationMs: 10 }) });
  await waitUntil(
    () =>
      cluster
        .objects('pods')
        .some((p) => p.metadata.labels?.['batch.kubernetes.io/job-name'] === 'long' && p.status?.phase === 'Running'),
    'the pod to run',
  );
  expect((await runner.getTask('long')).state).toBe('running');
  await runner.cancel('long');
  expectCancelled(await runner.waitFor('long'));
  expect(paths.path('long')).toEqual([
    'null>queued',
    'queued>creating',
    'creating>running',
    'running>cancelled',
    'cancelled>deleting',
    'deleting>deleted',
  ]);
  paths.stop();
  expect((await runner.waitFor('next')).outcome).toBe('succeeded');
  lifecycles.stop();
  expect(lifecycles.events).toEqual([
    'ADDED long',
    'TERMINATING long',
    'DELETED long',
    'ADDED next',
    'TERMINATING next',
    'DELETED next',
  ]);
  // The option reached the API server: each DELETE asked for Foreground.
  const deletes = cluster.requests().filter((r) => r.verb === 'delete' && r.resource === 'jobs');
  expect(deletes.map((r) => [r.name, r.propagationPolicy])).toEqual([
    ['long', 'Foreground'],
    ['next', 'Foreground'],
  ]);
  expect(Object.fromEntries(creationsByName(cluster))).toEqual({ long: 1, next: 1 });
  expect(ourJobs(cluster)).toEqual([]);
});
