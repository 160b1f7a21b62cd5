import { describe, expect, test } from 'vitest';
import type { DeleteJobOutput, TaskMachineInput } from '../../src/machines/task/contract.js';
import { T0, condition, iso, jobView, observed, resumed, runningPod, sec, taskInput } from './fixtures.js';
import { deferred } from './harness.js';
import { startSupervisor, until } from './supervisor-harness.js';

const complete = (id: string) =>
  observed(T0 + sec(10), jobView({ name: `job-${id}`, uid: `uid-${id}`, conditions: [condition('Complete')] }));
const enqueue = (task: TaskMachineInput, priority = 0) => ({ type: 'ENQUEUE' as const, tasks: [{ task, priority }] });

type Supervisor = ReturnType<typeof startSupervisor>;

/** Finishes every running task, until `count` tasks have finished. */
async function runAll(s: Supervisor, count: number): Promise<void> {
  while (s.finished().length < count) {
    await until(
      () =>
        s.inState('creating').length === 0 &&
        s.tasks().every((t) => ['running', 'queued'].includes(t.getSnapshot().value as string)),
      'tasks to settle',
    );
    const running = s.inState('running');
    if (running.length === 0 && s.finished().length < count)
      throw new Error(`stuck: nothing running, ${s.finished().length}/${count} finished`);
    for (const id of running) s.task(id)?.send(complete(id));
  }
}

describe('supervisor: slots', () => {
  test('cap 2 with 10 tasks: never more than 2 slots held, all 10 run once and finish', async () => {
    const s = startSupervisor(2);
    for (let i = 0; i < 10; i++) s.actor.send(enqueue(taskInput(`t${i}`)));
    expect(s.started()).toEqual(['t0', 't1']);
    expect(s.ledger()).toBe(2);
    await runAll(s, 10);
    expect(s.peak.slotsHeld).toBe(2);
    expect(s.peak.ledger).toBe(2);
    expect(s.peak.active).toBe(2);
    expect(s.createdOrder()).toEqual(Array.from({ length: 10 }, (_, i) => `t${i}`));
    expect(s.finished()).toHaveLength(10);
    expect(s.ledger()).toBe(0);
    expect(s.errors).toEqual([]);
  });

  test('finished task actors are stopped: none lingers after a supervisor step, none is left at the end', async () => {
    const s = startSupervisor(3);
    for (let i = 0; i < 30; i++) s.actor.send(enqueue(taskInput(`t${i}`)));
    await runAll(s, 30);
    await until(() => s.children().length === 0, 'children to be stopped');
    expect(s.peak.doneChildren).toBe(0);
    // Live children are the active tasks plus those still cleaning up after their Job completed.
    expect(s.peak.children).toBeLessThanOrEqual(6);
    expect(s.actor.getSnapshot().children).toEqual({});
    const finished = s.emitted.find((e) => e.type === 'task.finished');
    expect(finished).toMatchObject({
      type: 'task.finished',
      taskId: 't0',
      record: { id: 't0', state: 'deleted', outcome: 'succeeded' },
    });
  });

  test('a timed-out task keeps its slot until its Job is deleted', async () => {
    const del = deferred<DeleteJobOutput>();
    const s = startSupervisor(1, {
      delete: (input) => (input.taskId === 'a' ? del.promise : Promise.resolve(undefined)),
    });
    s.actor.send(enqueue(taskInput('a', { timeout: 30 })));
    s.actor.send(enqueue(taskInput('b')));
    await until(() => s.stateOf('a') === 'running', 'a running');
    s.task('a')?.send(observed(T0 + sec(1), jobView({ name: 'job-a', uid: 'uid-a' }), [runningPod()]));
    s.task('a')?.send({ type: 'ALARM', at: T0 + sec(32) });
    await until(() => s.stateOf('a') === 'deleting', 'a deleting');
    expect(s.task('a')?.getSnapshot().context.outcome).toBe('timedOut');
    expect(s.createdOrder()).toEqual(['a']);
    expect(s.ledger()).toBe(1);
    del.resolve({ at: T0 + sec(40) });
    await until(() => s.stateOf('b') === 'running', 'b running');
    expect(s.createdOrder()).toEqual(['a', 'b']);
    expect(s.peak.ledger).toBe(1);
  });

  test('a task whose Job completed frees its slot before its cleanup finishes', async () => {
    const del = deferred<DeleteJobOutput>();
    const s = startSupervisor(1, {
      delete: (input) => (input.taskId === 'a' ? del.promise : Promise.resolve(undefined)),
    });
    s.actor.send(enqueue(taskInput('a')));
    s.actor.send(enqueue(taskInput('b')));
    await until(() => s.stateOf('a') === 'running', 'a running');
    s.task('a')?.send(complete('a'));
    await until(() => s.stateOf('b') === 'running', 'b running while a is still being deleted');
    expect(s.stateOf('a')).toBe('deleting');
    del.resolve(undefined);
  });

  test('cancelling a queued task never takes a slot and never creates a Job', async () => {
    const s = startSupervisor(1);
    s.actor.send(enqueue(taskInput('a')));
    s.actor.send(enqueue(taskInput('b')));
    s.actor.send(enqueue(taskInput('c')));
    await until(() => s.stateOf('a') === 'running', 'a running');
    s.actor.send({ type: 'CANCEL', taskId: 'b', at: T0 + sec(2) });
    expect(s.finished()).toEqual(['b']);
    expect(s.emitted.find((e) => e.type === 'task.finished' && e.taskId === 'b')).toMatchObject({
      record: { outcome: 'cancelled', state: 'deleted', finishedAt: iso(T0 + sec(2)) },
    });
    expect(s.ledger()).toBe(1);
    expect(s.peak.ledger).toBe(1);
    s.task('a')?.send(complete('a'));
    await runAll(s, 3);
    expect(s.createdOrder()).toEqual(['a', 'c']);
    expect(s.started()).toEqual(['a', 'c']);
  });

  test('cancelling a live task forwards CANCEL; its slot is freed once its Job is deleted', async () => {
    const s = startSupervisor(1);
    s.actor.send(enqueue(taskInput('a')));
    s.actor.send(enqueue(taskInput('b')));
    await until(() => s.stateOf('a') === 'running', 'a running');
    s.actor.send({ type: 'CANCEL', taskId: 'a', at: T0 + sec(3) });
    await until(() => s.finished().includes('a'), 'a finished');
    expect(s.emitted.find((e) => e.type === 'task.finished' && e.taskId === 'a')).toMatchObject({
      record: { outcome: 'cancelled' },
    });
    expect(s.stubs.logOf('a').deleted).toHaveLength(1);
    await until(() => s.stateOf('b') === 'running', 'b running');
  });

  test('cancelling an unknown task is ignored', () => {
    const s = startSupervisor(1);
    s.actor.send({ type: 'CANCEL', taskId: 'ghost', at: T0 });
    expect(s.actor.getSnapshot().status).toBe('active');
    expect(s.errors).toEqual([]);
  });

  test('PAUSE stops starting queued tasks; live ones go on', async () => {
    const s = startSupervisor(2);
    s.actor.send(enqueue(taskInput('a')));
    s.actor.send({ type: 'PAUSE' });
    s.actor.send(enqueue(taskInput('b')));
    expect(s.started()).toEqual(['a']);
    await until(() => s.stateOf('a') === 'running', 'a running');
    s.task('a')?.send(complete('a'));
    await until(() => s.finished().includes('a'), 'a finished');
    expect(s.started()).toEqual(['a']);
    expect(s.actor.getSnapshot().context.queue.size).toBe(1);
  });

  test('a duplicate id is rejected with an event, not a crash', () => {
    const s = startSupervisor(1);
    s.actor.send(enqueue(taskInput('a')));
    s.actor.send(enqueue(taskInput('b')));
    s.actor.send(enqueue(taskInput('a')));
    s.actor.send(enqueue(taskInput('b')));
    expect(s.emitted.filter((e) => e.type === 'task.rejected')).toEqual([
      { type: 'task.rejected', taskId: 'a', reason: 'duplicate' },
      { type: 'task.rejected', taskId: 'b', reason: 'duplicate' },
    ]);
    expect(s.actor.getSnapshot().status).toBe('active');
  });

  test('one ENQUEUE of several tasks queues them in order, as one event each would, duplicates rejected', async () => {
    const s = startSupervisor(1);
    s.actor.send(enqueue(taskInput('a')));
    s.actor.send({
      type: 'ENQUEUE',
      tasks: [
        { task: taskInput('b'), priority: 0 },
        { task: taskInput('a'), priority: 0 },
        { task: taskInput('c', {}, { createdAt: iso(T0 + sec(5)) }), priority: 2 },
        { task: taskInput('c'), priority: 0 },
        { task: taskInput('d'), priority: 0 },
      ],
    });
    expect(s.emitted.filter((e) => e.type === 'task.rejected').map((e) => e.taskId)).toEqual(['a', 'c']);
    expect(s.actor.getSnapshot().context.queue.size).toBe(3);
    // The supervisor's clock moved to the newest task's createdAt, as it would have one event at a time.
    expect(s.actor.getSnapshot().context.now).toBe(T0 + sec(5));
    await runAll(s, 4);
    // c first (priority 2), then b and d in the order they came.
    expect(s.started()).toEqual(['a', 'c', 'b', 'd']);
  });

  test('RESUME is held to the same duplicate check as ENQUEUE: a live or queued id, either way round', () => {
    const s = startSupervisor(1);
    s.actor.send(enqueue(taskInput('a'))); // started: a live actor
    s.actor.send(enqueue(taskInput('b'))); // queued
    s.actor.send({ type: 'RESUME', task: resumed('running', { jobUid: 'uid-r' }, 'r') }); // a live actor
    s.actor.send({ type: 'RESUME', task: resumed('queued', {}, 'a') });
    s.actor.send({ type: 'RESUME', task: resumed('running', {}, 'b') });
    s.actor.send(enqueue(taskInput('r')));
    s.actor.send({ type: 'RESUME', task: resumed('creating', {}, 'r') });
    expect(s.emitted.filter((e) => e.type === 'task.rejected').map((e) => e.taskId)).toEqual(['a', 'b', 'r', 'r']);
    expect(s.actor.getSnapshot().context.queue.size).toBe(1);
    expect(s.actor.getSnapshot().status).toBe('active');
  });

  test('a crashed task actor is stopped, reported, and its slot goes to the next task', async () => {
    const boom = new Error('bug in a guard');
    const s = startSupervisor(1, {}, (m) =>
      m.provide({
        guards: {
          cancelRequested: ({ context }) => {
            if (context.taskId === 'a') throw boom;
            return context.cancelRequested;
          },
        },
      }),
    );
    s.actor.send(enqueue(taskInput('a')));
    s.actor.send(enqueue(taskInput('b')));
    await until(() => s.emitted.some((e) => e.type === 'task.crashed'), 'a crashed');
    expect(s.emitted.find((e) => e.type === 'task.crashed')).toMatchObject({
      taskId: 'a',
      error: expect.objectContaining({ message: expect.stringContaining(boom.message) }),
    });
    expect(s.task('a')).toBeUndefined();
    await until(() => s.stateOf('b') === 'running', 'b running');
    expect(s.ledger()).toBe(1);
    expect(s.actor.getSnapshot().status).toBe('active');
  });

  test('effect failures of a task are re-emitted for the runner', async () => {
    const s = startSupervisor(1, { snapshotThrows: new Error('snapshot failed') });
    s.actor.send(enqueue(taskInput('a')));
    await until(() => s.emitted.some((e) => e.type === 'task.effectFailed'), 'effect failure');
    expect(s.emitted.find((e) => e.type === 'task.effectFailed')).toMatchObject({
      taskId: 'a',
      effect: 'snapshotLogs',
    });
  });
});

describe('supervisor: queue order', () => {
  test('higher priority first, FIFO within a priority', async () => {
    const s = startSupervisor(1);
    s.actor.send(enqueue(taskInput('blocker')));
    s.actor.send(enqueue(taskInput('p0-a'), 0));
    s.actor.send(enqueue(taskInput('p5-a'), 5));
    s.actor.send(enqueue(taskInput('p0-b'), 0));
    s.actor.send(enqueue(taskInput('neg'), -3));
    s.actor.send(enqueue(taskInput('p5-b'), 5));
    s.actor.send(enqueue(taskInput('p9'), 9));
    s.actor.send(enqueue(taskInput('p0-c'), 0));
    expect([...s.actor.getSnapshot().context.queue].map((t) => t.taskId)).toEqual([
      'p9',
      'p5-a',
      'p5-b',
      'p0-a',
      'p0-b',
      'p0-c',
      'neg',
    ]);
    await runAll(s, 8);
    expect(s.createdOrder()).toEqual(['blocker', 'p9', 'p5-a', 'p5-b', 'p0-a', 'p0-b', 'p0-c', 'neg']);
  });

  test('RESUME of a queued task uses the spec priority when none is given', () => {
    const s = startSupervisor(1);
    s.actor.send(enqueue(taskInput('blocker')));
    s.actor.send({ type: 'RESUME', task: resumed('queued', {}, 'low') });
    s.actor.send({ type: 'RESUME', task: resumed('queued', {}, 'high', { priority: 7 }) });
    expect([...s.actor.getSnapshot().context.queue].map((t) => t.taskId)).toEqual(['high', 'low']);
  });

  test('the queue in context serializes to a bounded summary', () => {
    const s = startSupervisor(1);
    s.actor.send({ type: 'PAUSE' });
    for (let i = 0; i < 50; i++) s.actor.send(enqueue(taskInput(`t${i}`), i % 2));
    const json = JSON.parse(JSON.stringify(s.actor.getSnapshot().context)) as {
      queue: { size: number; next: string[] };
    };
    expect(json.queue.size).toBe(50);
    expect(json.queue.next).toEqual(['t1', 't3', 't5', 't7', 't9', 't11', 't13', 't15', 't17', 't19']);
  });
});

describe('supervisor: RESUME', () => {
  test('a restored running task counts against the cap until it releases its slot', async () => {
    const s = startSupervisor(1);
    s.actor.send({ type: 'RESUME', task: resumed('running', { jobUid: 'uid-r' }, 'r') });
    expect(s.stateOf('r')).toBe('running');
    expect(s.ledger()).toBe(1);
    s.actor.send(enqueue(taskInput('q')));
    expect(s.started()).toEqual([]);
    s.task('r')?.send(
      observed(T0 + sec(5), jobView({ name: 'job-r', uid: 'uid-r', conditions: [condition('Complete')] })),
    );
    await until(() => s.stateOf('q') === 'running', 'q running');
    expect(s.peak.ledger).toBe(1);
  });

  test('restored tasks that hold no slot do not count; finished ones are stopped', async () => {
    const s = startSupervisor(1);
    s.actor.send({ type: 'RESUME', task: resumed('deleted', { outcome: 'succeeded', finishedAt: iso(T0) }, 'gone') });
    s.actor.send({
      type: 'RESUME',
      task: resumed(
        'deleting',
        { outcome: 'succeeded', jobUid: 'uid-d', jobFinished: true, slotHeld: false, finishedAt: iso(T0) },
        'd',
      ),
    });
    expect(s.ledger()).toBe(0);
    s.actor.send(enqueue(taskInput('q')));
    expect(s.started()).toEqual(['q']);
    await until(() => s.finished().includes('gone') && s.finished().includes('d'), 'restored tasks finished');
    expect(s.stubs.logOf('d').deleted).toHaveLength(1);
    expect(s.task('gone')).toBeUndefined();
  });

  test('cap is respected across restored and new tasks (cap 2, 2 restored creating, 5 new)', async () => {
    const s = startSupervisor(2);
    s.actor.send({ type: 'RESUME', task: resumed('creating', {}, 'r1') });
    s.actor.send({ type: 'RESUME', task: resumed('creating', {}, 'r2') });
    for (let i = 0; i < 5; i++) s.actor.send(enqueue(taskInput(`n${i}`)));
    expect(s.started()).toEqual([]);
    await runAll(s, 7);
    expect(s.peak.ledger).toBe(2);
    expect(s.peak.slotsHeld).toBe(2);
    expect(s.createdOrder().slice(0, 2).sort()).toEqual(['r1', 'r2']);
  });
});
