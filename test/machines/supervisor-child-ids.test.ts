import { expect, test } from 'vitest';
import { ChildIds } from '../../src/machines/supervisor/child-ids.js';
import { taskSystemId } from '../../src/machines/supervisor/contract.js';
import type { TaskMachineInput } from '../../src/machines/task/contract.js';
import { T0, condition, jobView, observed, sec, taskInput } from './fixtures.js';
import { startSupervisor, until } from './supervisor-harness.js';

const enqueue = (task: TaskMachineInput) => ({ type: 'ENQUEUE' as const, tasks: [{ task, priority: 0 }] });
const complete = (id: string) =>
  observed(T0 + sec(10), jobView({ name: `job-${id}`, uid: `uid-${id}`, conditions: [condition('Complete')] }));

test('ChildIds: a released id is handed out again; an id not handed out is not a task', () => {
  const ids = new ChildIds();
  const a = ids.acquire('a');
  const b = ids.acquire('b');
  expect(a).not.toBe(b);
  expect(ids.taskIdOf(a)).toBe('a');
  expect(ids.release(a)).toBe('a');
  expect(ids.release(a)).toBeUndefined();
  expect(ids.taskIdOf('child')).toBeUndefined();
  expect(ids.acquire('c')).toBe(a);
  expect(ids.toJSON()).toEqual({ alive: 2, ids: 2 });
});

test('supervisor: 60 tasks at cap 3 reuse a handful of child ids, and leave no actor in the system', async () => {
  const s = startSupervisor(3);
  for (let i = 0; i < 60; i++) s.actor.send(enqueue(taskInput(`t${i}`)));
  while (s.finished().length < 60) {
    await until(() => s.inState('running').length > 0 || s.finished().length === 60, 'a task to run');
    for (const id of s.inState('running')) s.task(id)?.send(complete(id));
    await new Promise((resolve) => setImmediate(resolve));
  }
  await until(() => s.children().length === 0, 'children to be stopped');
  // XState memoizes transitions per event type: `xstate.done.actor.<child id>` must not be new per task.
  const { alive, ids } = s.actor.getSnapshot().context.children.toJSON();
  expect(alive).toBe(0);
  // At most the actors alive at once: the active tasks plus those cleaning up (see supervisor.test.ts).
  expect(ids).toBeLessThanOrEqual(6);
  for (let i = 0; i < 60; i++) expect(s.actor.system.get(taskSystemId(`t${i}`))).toBeUndefined();
  expect(s.errors).toEqual([]);
});
