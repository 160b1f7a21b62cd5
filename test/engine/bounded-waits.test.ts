import { setMaxListeners } from 'node:events';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { TaskNotFoundError, ValidationError, WaitTimeoutError } from '../../src/errors.js';
import type { RunnerEvent } from '../../src/runner/runner-events.js';
import { inspectStreams } from '../../src/runner/task-streams.js';
import { waitUntil } from '../helpers/wait.js';
import { behaviour, creationsByName, ourJobs, startEngine, type Engine } from './harness.js';

/*
 * The bounds of issue 10: `waitFor` abandoned by a signal or a timeout (and leaving no waiter
 * behind), `addTask` with an aborted signal (nothing stored), `shutdown`'s `timeoutMs`.
 */

describe('on one runner with an endless task', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await startEngine();
    await engine.runner.addTask({ id: 'endless', image: 'busybox', ...behaviour({ durationMs: -1 }) });
    await waitUntil(async () => (await engine.runner.getTask('endless')).state === 'running', 'the task to run');
  });
  afterAll(async () => {
    await engine.close();
  });

  test('waitFor(id, { signal }) rejects with the signal reason when it aborts', async () => {
    const controller = new AbortController();
    const wait = engine.runner.waitFor('endless', { signal: controller.signal });
    const reason = new Error('no longer needed');
    controller.abort(reason);
    await expect(wait).rejects.toBe(reason);
  });

  test('waitFor(id, { signal }) with an already-aborted signal rejects at once', async () => {
    await expect(engine.runner.waitFor('endless', { signal: AbortSignal.abort('gone') })).rejects.toBe('gone');
  });

  test('waitFor(id, { timeoutMs }) rejects with WaitTimeoutError naming the task and the bound', async () => {
    const err: unknown = await engine.runner.waitFor('endless', { timeoutMs: 50 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WaitTimeoutError);
    expect(err).toMatchObject({ code: 'WAIT_TIMEOUT', taskId: 'endless', timeoutMs: 50 });
  });

  test('waitFor rejects a timeoutMs that is negative, not finite or not a number with ValidationError', async () => {
    for (const timeoutMs of [-1, Number.NaN, Infinity, '5' as unknown as number]) {
      await expect(engine.runner.waitFor('endless', { timeoutMs })).rejects.toBeInstanceOf(ValidationError);
    }
  });

  test('abandoned waits leave no waiter behind', async () => {
    expect(inspectStreams(engine.runner).waiters).toBe(0);
    const controller = new AbortController();
    // One signal shared by 500 waits is this test's doing: Node warns past 10 listeners by default.
    setMaxListeners(1000, controller.signal);
    const aborted = Array.from({ length: 500 }, () =>
      engine.runner.waitFor('endless', { signal: controller.signal }).catch(() => undefined),
    );
    const timedOut = Array.from({ length: 500 }, () =>
      engine.runner.waitFor('endless', { timeoutMs: 20 }).catch(() => undefined),
    );
    await waitUntil(() => inspectStreams(engine.runner).waiters === 1000, 'every wait to be registered');
    controller.abort();
    await Promise.all([...aborted, ...timedOut]);
    expect(inspectStreams(engine.runner).waiters).toBe(0);
  });

  test('addTask(task, { signal }) with an aborted signal rejects and stores nothing', async () => {
    const reason = new Error('caller gave up');
    await expect(
      engine.runner.addTask({ id: 'never', image: 'busybox' }, { signal: AbortSignal.abort(reason) }),
    ).rejects.toBe(reason);
    // Aborted right after the call, before its write started: rejected too, nothing stored.
    const controller = new AbortController();
    const add = engine.runner.addTask({ id: 'never-either', image: 'busybox' }, { signal: controller.signal });
    controller.abort(reason);
    await expect(add).rejects.toBe(reason);
    for (const id of ['never', 'never-either']) {
      await expect(engine.runner.getTask(id)).rejects.toBeInstanceOf(TaskNotFoundError);
    }
    const store = await engine.openStore();
    try {
      expect(await store.getTask('never')).toBeUndefined();
      expect(await store.getTask('never-either')).toBeUndefined();
    } finally {
      await store.close();
    }
    expect(creationsByName(engine.cluster).has('never')).toBe(false);
  });
});

test("shutdown({ mode: 'drain', timeoutMs }) stops waiting when the time is up, detaches and says so", async () => {
  const engine = await startEngine();
  try {
    const { runner } = engine;
    const events: RunnerEvent[] = [];
    runner.events$.subscribe((e) => events.push(e));
    await runner.addTask({ id: 'endless', image: 'busybox', ...behaviour({ durationMs: -1 }) });
    await waitUntil(async () => (await runner.getTask('endless')).state === 'running', 'the task to run');
    await expect(runner.shutdown({ mode: 'drain', timeoutMs: -5 })).rejects.toBeInstanceOf(ValidationError);
    await runner.shutdown({ mode: 'drain', timeoutMs: 100 });
    expect(events.filter((e) => e.kind === 'shutdownDetached')).toEqual([
      { kind: 'shutdownDetached', mode: 'drain', reason: 'timeout', timeoutMs: 100, remaining: ['endless'] },
    ]);
    // Detached: the Job keeps running, the store says running, for the next start.
    expect(ourJobs(engine.cluster).map((j) => j.metadata.name)).toEqual(['endless']);
    const store = await engine.openStore();
    try {
      expect(await store.getTask('endless')).toMatchObject({ state: 'running' });
    } finally {
      await store.close();
    }
  } finally {
    await engine.close();
  }
});

test("shutdown({ mode: 'detach' }) during a drain ends the wait at once and returns the same shutdown", async () => {
  const engine = await startEngine();
  try {
    const { runner } = engine;
    const events: RunnerEvent[] = [];
    runner.events$.subscribe((e) => events.push(e));
    await runner.addTask({ id: 'endless', image: 'busybox', ...behaviour({ durationMs: -1 }) });
    await waitUntil(async () => (await runner.getTask('endless')).state === 'running', 'the task to run');
    const drain = runner.shutdown({ mode: 'drain' });
    const detach = runner.shutdown({ mode: 'detach' });
    await Promise.all([drain, detach]);
    expect(events.filter((e) => e.kind === 'shutdownDetached')).toEqual([
      { kind: 'shutdownDetached', mode: 'drain', reason: 'detach', remaining: ['endless'] },
    ]);
    expect(ourJobs(engine.cluster).map((j) => j.metadata.name)).toEqual(['endless']);
  } finally {
    await engine.close();
  }
});

test("shutdown({ mode: 'cancel', timeoutMs }) is bounded too: a Job whose delete hangs is left to the next start", async () => {
  const engine = await startEngine();
  try {
    const { runner, cluster } = engine;
    const events: RunnerEvent[] = [];
    runner.events$.subscribe((e) => events.push(e));
    await runner.addTask({ id: 'stubborn', image: 'busybox', ...behaviour({ durationMs: -1 }) });
    await waitUntil(async () => (await runner.getTask('stubborn')).state === 'running', 'the task to run');
    // The API server answers the Job's delete only after 10 s: the cancel cannot finish in time.
    cluster.faults.delayRequests({ verbs: ['delete'], resources: ['jobs'], ms: 10_000 });
    await runner.shutdown({ mode: 'cancel', timeoutMs: 300 });
    expect(events.filter((e) => e.kind === 'shutdownDetached')).toEqual([
      { kind: 'shutdownDetached', mode: 'cancel', reason: 'timeout', timeoutMs: 300, remaining: ['stubborn'] },
    ]);
    const store = await engine.openStore();
    try {
      // Left where the cancel was: the next start resumes it there and deletes the Job.
      expect((await store.getTask('stubborn'))?.state).not.toBe('deleted');
    } finally {
      await store.close();
    }
  } finally {
    await engine.close();
  }
});
