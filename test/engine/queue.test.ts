import { afterEach, expect, test } from 'vitest';
import { QueueFullError, TaskNotFoundError } from '../../src/errors.js';
import type { Transition } from '../../src/types.js';
import { waitUntil } from '../helpers/wait.js';
import { behaviour, creationsByName, ourJobs, startEngine, type Engine } from './harness.js';

/*
 * The queue, with one slot: a blocker task runs (until cancelled) while the others wait, so the
 * order of the Job creations the sim accepted is the order the supervisor started them in.
 */

let engine: Engine | undefined;
afterEach(async () => {
  await engine?.close();
  engine = undefined;
});

const forever = behaviour({ durationMs: -1 });
const quick = behaviour({ durationMs: 10 });

/** Adds a task that holds the only slot, and waits until it runs (so it no longer counts as queued). */
async function addBlocker(e: Engine): Promise<void> {
  await e.runner.addTask({ id: 'blocker', image: 'busybox', ...forever });
  await waitUntil(async () => (await e.runner.getTask('blocker')).state === 'running', 'the blocker to run');
}

test('queueSize is enforced with QueueFullError, and nothing is stored or sent for the rejected task', async () => {
  engine = await startEngine({ runner: { maxConcurrentJobs: 1, queueSize: 3 } });
  const { runner, cluster } = engine;
  const seen: Transition[] = [];
  const subscription = runner.transitions$.subscribe((t) => seen.push(t));
  await addBlocker(engine);
  for (const id of ['q1', 'q2', 'q3']) await runner.addTask({ id, image: 'busybox', ...quick });
  const rejected = await runner.addTask({ id: 'q4', image: 'busybox', ...quick }).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(rejected).toBeInstanceOf(QueueFullError);
  expect((rejected as QueueFullError).code).toBe('QUEUE_FULL');
  await expect(runner.getTask('q4')).rejects.toBeInstanceOf(TaskNotFoundError);
  expect(seen.filter((t) => t.taskId === 'q4')).toEqual([]);

  await runner.cancel('blocker');
  const records = await Promise.all(['blocker', 'q1', 'q2', 'q3'].map((id) => runner.waitFor(id)));
  expect(records.map((r) => r.outcome)).toEqual(['cancelled', 'succeeded', 'succeeded', 'succeeded']);
  subscription.unsubscribe();
  // The rejected task never reached the cluster, and every accepted one was created once.
  expect(Object.fromEntries(creationsByName(cluster))).toEqual({ blocker: 1, q1: 1, q2: 1, q3: 1 });
  expect(ourJobs(cluster)).toEqual([]);
  // And the store on disk has the accepted tasks, but no trace of the rejected one.
  await runner.shutdown();
  const store = await engine.openStore();
  try {
    expect((await store.getTask('q3'))?.outcome).toBe('succeeded');
    expect(await store.getTask('q4')).toBeUndefined();
    expect(await store.getTransitions('q4')).toEqual([]);
  } finally {
    await store.close();
  }
});

test('the queue frees up as tasks start: a task refused when full is accepted once there is room', async () => {
  engine = await startEngine({ runner: { maxConcurrentJobs: 1, queueSize: 1 } });
  const { runner, cluster } = engine;
  await addBlocker(engine);
  await runner.addTask({ id: 'waiting', image: 'busybox', ...forever });
  await expect(runner.addTask({ id: 'late', image: 'busybox', ...quick })).rejects.toBeInstanceOf(QueueFullError);
  await runner.cancel('blocker');
  await waitUntil(async () => (await runner.getTask('waiting')).state === 'running', 'the waiting task to start');
  await runner.addTask({ id: 'late', image: 'busybox', ...quick });
  await runner.cancel('waiting');
  expect((await runner.waitFor('late')).outcome).toBe('succeeded');
  expect(Object.fromEntries(creationsByName(cluster))).toEqual({ blocker: 1, waiting: 1, late: 1 });
  await runner.waitFor('waiting');
  expect(ourJobs(cluster)).toEqual([]);
});

test('higher priorities start first, and tasks of one priority start in the order they were added', async () => {
  engine = await startEngine({ runner: { maxConcurrentJobs: 1, queueSize: 20 } });
  const { runner, cluster } = engine;
  await addBlocker(engine);
  const added: [id: string, priority: number][] = [
    ['low-a', -1],
    ['zero-a', 0],
    ['high-a', 5],
    ['zero-b', 0],
    ['top', 10],
    ['high-b', 5],
    ['zero-c', 0],
    ['low-b', -1],
    ['high-c', 5],
    ['zero-d', 0],
  ];
  for (const [id, priority] of added) await runner.addTask({ id, image: 'busybox', priority, ...quick });
  await runner.cancel('blocker');
  const records = await Promise.all(['blocker', ...added.map(([id]) => id)].map((id) => runner.waitFor(id)));
  expect(records.filter((r) => r.id !== 'blocker' && r.outcome !== 'succeeded')).toEqual([]);
  expect(cluster.jobCreations().map((c) => c.name)).toEqual([
    'blocker',
    'top',
    'high-a',
    'high-b',
    'high-c',
    'zero-a',
    'zero-b',
    'zero-c',
    'zero-d',
    'low-a',
    'low-b',
  ]);
  expect(ourJobs(cluster)).toEqual([]);
});
