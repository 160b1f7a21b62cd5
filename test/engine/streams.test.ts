import { firstValueFrom, lastValueFrom, toArray, type Observable, type Subscription } from 'rxjs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { RunnerClosedError, TaskNotFoundError } from '../../src/errors.js';
import { inspectStreams } from '../../src/runner/task-streams.js';
import type { TaskRecord, Transition } from '../../src/types.js';
import { waitUntil } from '../helpers/wait.js';
import { startRecovery } from '../recovery/harness.js';
import { behaviour, startEngine, type Engine } from './harness.js';

/*
 * The runner's RxJS streams against the sim: task$ follows one task's records to `deleted`,
 * logs$ follows its pod's log through dropped connections and ends with the stored tail, nothing
 * is left subscribed (or connected) after 10,000 subscribe/unsubscribe rounds, and shutdown
 * completes every stream.
 */

/** Consecutive duplicates removed: the states a sequence of records went through. */
const statesOf = (records: TaskRecord[]): string[] =>
  records.map((r) => r.state).filter((s, i, all) => s !== all[i - 1]);

/** Collects what a stream emits and how it ended. */
function record<T>(stream: Observable<T>): { values: T[]; done: Promise<void>; subscription: Subscription } {
  const values: T[] = [];
  let subscription!: Subscription;
  const done = new Promise<void>((resolve, reject) => {
    subscription = stream.subscribe({ next: (v) => values.push(v), complete: resolve, error: reject });
  });
  return { values, done, subscription };
}

describe('on one runner', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await startEngine();
  });
  afterAll(async () => {
    await engine.close();
  });

  test('task$ emits every state the task goes through and completes after deleted; transitions$ has the same steps', async () => {
    const { runner } = engine;
    const transitions = record(runner.transitions$);
    await runner.addTask({ id: 'states', image: 'busybox', ...behaviour({ durationMs: 50 }) });
    const states = record(runner.task$('states'));
    // The record current at subscription comes first, synchronously.
    expect(states.values).toHaveLength(1);
    const first = states.values[0]!;
    await states.done;
    const lifecycle = ['queued', 'creating', 'running', 'succeeded', 'deleting', 'deleted'];
    expect(lifecycle.slice(0, 2)).toContain(first.state);
    expect(statesOf(states.values)).toEqual(lifecycle.slice(lifecycle.indexOf(first.state)));
    expect(states.values.at(-1)).toMatchObject({ state: 'deleted', outcome: 'succeeded' });
    const mine = transitions.values.filter((t) => t.taskId === 'states');
    expect(mine.map((t) => [t.from, t.to])).toEqual([
      [null, 'queued'],
      ['queued', 'creating'],
      ['creating', 'running'],
      ['running', 'succeeded'],
      ['succeeded', 'deleting'],
      ['deleting', 'deleted'],
    ]);
    for (const t of mine) expect(Number.isNaN(Date.parse(t.at))).toBe(false);
    expect(mine.every((t) => t.event.length > 0)).toBe(true);
    expect(mine.filter((t) => t.outcome !== undefined).map((t) => t.to)).toEqual(['succeeded', 'deleting', 'deleted']);
    transitions.subscription.unsubscribe();
    // A task already deleted: its record, then complete.
    expect(await lastValueFrom(runner.task$('states').pipe(toArray()))).toEqual([states.values.at(-1)]);
  });

  test('task$ and logs$ of an unknown id error with TaskNotFoundError', async () => {
    await expect(firstValueFrom(engine.runner.task$('no-such-task'))).rejects.toBeInstanceOf(TaskNotFoundError);
    await expect(firstValueFrom(engine.runner.logs$('no-such-task'))).rejects.toBeInstanceOf(TaskNotFoundError);
  });

  test('logs$ delivers every line once and in order while its follow stream is dropped again and again, then completes', async () => {
    const { runner, cluster } = engine;
    // 28 lines over about 2 s; every fifth entry prints three lines at once (one timestamp), so
    // a resumed stream must tell apart lines of the very same time.
    const entries = Array.from({ length: 20 }, (_, i) => ({
      line: i % 5 === 0 ? `line ${i}a\nline ${i}b\nline ${i}c` : `line ${i}`,
      afterMs: 20 + i * 100,
    }));
    const expected = entries.flatMap((e) => e.line.split('\n'));
    await runner.addTask({ id: 'chatty', image: 'busybox', ...behaviour({ durationMs: 2100, logs: entries }) });
    // Subscribed while queued: the stream waits for the pod.
    const lines = record(runner.logs$('chatty'));
    const drops = 4;
    for (let drop = 0; drop < drops; drop++) {
      const seen = lines.values.length;
      await waitUntil(
        () => lines.values.length > seen && cluster.stats().openLogStreams === 1,
        'a new line on a connected stream',
      );
      expect(cluster.faults.dropLogStreams()).toBe(1);
    }
    await lines.done;
    expect(lines.values).toEqual(expected);
    expect(cluster.faults.counts().logStreamsDropped).toBe(drops);
    // Each drop was followed by a resumed request (sinceTime), not by a read from the start.
    const logRequests = cluster.requests().filter((r) => r.resource === 'pods/log' && r.verb === 'get');
    expect(logRequests.length).toBeGreaterThan(drops);
    expect(cluster.stats().openLogStreams).toBe(0);
  });

  test('logs$ of a finished task gives its stored snapshot', async () => {
    const { runner } = engine;
    await runner.addTask({ id: 'finished-logs', image: 'busybox', ...behaviour({ logs: ['one', 'two', 'three'] }) });
    await runner.waitFor('finished-logs');
    expect(await lastValueFrom(runner.logs$('finished-logs').pipe(toArray()))).toEqual(['one', 'two', 'three']);
  });

  test('10,000 subscribe/unsubscribe rounds on transitions$, task$, logs$ and events$ leave no subscriber and no log connection', async () => {
    const { runner, cluster } = engine;
    await runner.addTask({ id: 'long-runner', image: 'busybox', ...behaviour({ durationMs: -1, logs: ['started'] }) });
    // Its container has started (it printed), so no pending budget runs while the loops below hold the event loop.
    expect(await firstValueFrom(runner.logs$('long-runner'))).toBe('started');
    // That first follow closed, so that the open stream counted below can only be the shared one.
    await waitUntil(() => cluster.stats().openLogStreams === 0, 'the first follow to close');
    const logRequests = (): number => cluster.stats().requests['get pods/log'] ?? 0;
    const logRequestsBefore = logRequests();
    const before = inspectStreams(runner);
    const streams = [
      runner.transitions$,
      runner.task$('long-runner'),
      runner.logs$('long-runner'),
      runner.events$,
    ] as Observable<unknown>[];
    // One at a time...
    for (let i = 0; i < 10_000; i++) for (const stream of streams) stream.subscribe().unsubscribe();
    // ...and all at once, connected: the 10,000 share one log connection and one record source.
    const subscriptions = Array.from({ length: 10_000 }, () => streams.map((stream) => stream.subscribe()));
    await waitUntil(() => cluster.stats().openLogStreams === 1, 'the shared log stream to connect');
    // One request for all of them: a subscription gone before its request began sent none (each
    // one-at-a-time round took a token and unsubscribed before it resolved: those were once sent).
    expect(logRequests()).toBe(logRequestsBefore + 1);
    const during = inspectStreams(runner);
    expect(during).toMatchObject({ taskStreams: 1, logStreams: 1, recordsObserved: true });
    expect(during.transitionsObservers).toBe(before.transitionsObservers + 10_000);
    expect(during.eventsObservers).toBe(before.eventsObservers + 10_000);
    for (const set of subscriptions) for (const subscription of set) subscription.unsubscribe();
    expect(inspectStreams(runner)).toEqual(before);
    expect(before).toMatchObject({ taskStreams: 0, logStreams: 0, recordsObserved: false });
    await waitUntil(() => cluster.stats().openLogStreams === 0, 'the log stream to close');
    expect(logRequests()).toBe(logRequestsBefore + 1);
    await runner.cancel('long-runner');
    await runner.waitFor('long-runner');
  });
});

test('shutdown completes the transitions$, events$, task$ and logs$ open at the time and closes the log connection; task$ and logs$ subscribed after it error with RunnerClosedError', async () => {
  const engine = await startEngine();
  try {
    const { runner, cluster } = engine;
    await runner.addTask({ id: 'forever', image: 'busybox', ...behaviour({ durationMs: -1, logs: ['hello'] }) });
    const transitions = record<Transition>(runner.transitions$);
    const events = record(runner.events$);
    const task = record(runner.task$('forever'));
    const logs = record(runner.logs$('forever'));
    const madeBefore = runner.logs$('forever');
    await waitUntil(() => logs.values.length === 1 && cluster.stats().openLogStreams === 1, 'the first live line');
    await runner.shutdown();
    await Promise.all([transitions.done, events.done, task.done, logs.done]);
    expect(logs.values).toEqual(['hello']);
    expect(task.values.at(-1)?.state).toBe('running');
    await waitUntil(() => cluster.stats().openLogStreams === 0, 'the log stream to close');
    // Subscribed after shutdown (even if asked for before): an error, as every method then rejects.
    await expect(firstValueFrom(runner.task$('forever'))).rejects.toMatchObject({
      code: 'RUNNER_CLOSED',
      operation: 'task$',
    });
    await expect(firstValueFrom(runner.logs$('forever'))).rejects.toMatchObject({
      code: 'RUNNER_CLOSED',
      operation: 'logs$',
    });
    await expect(firstValueFrom(madeBefore)).rejects.toBeInstanceOf(RunnerClosedError);
    await expect(firstValueFrom(runner.task$('never-added'))).rejects.toBeInstanceOf(RunnerClosedError);
  } finally {
    await engine.close();
  }
});

test('a task deleted before this runner started: task$ emits its stored record and completes, logs$ gives its stored snapshot', async () => {
  const recovery = await startRecovery();
  try {
    const first = await recovery.start();
    await first.addTask({ id: 'earlier', image: 'busybox', ...behaviour({ logs: ['from', 'before'] }) });
    const done = await first.waitFor('earlier');
    await first.shutdown();
    const second = await recovery.start();
    expect(await lastValueFrom(second.task$('earlier').pipe(toArray()))).toEqual([done]);
    expect(await lastValueFrom(second.logs$('earlier').pipe(toArray()))).toEqual(['from', 'before']);
  } finally {
    await recovery.close();
  }
});
