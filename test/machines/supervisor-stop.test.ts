import { expect, test } from 'vitest';
import type { TaskMachineInput } from '../../src/machines/task/contract.js';
import { taskInput } from './fixtures.js';
import { startSupervisor, until } from './supervisor-harness.js';

const enqueue = (task: TaskMachineInput) => ({ type: 'ENQUEUE' as const, tasks: [{ task, priority: 0 }] });

// Task actors are not in the supervisor's snapshot (decision record 007): XState does not stop them with it.
test("stopAll stops every live task actor and its effects, as XState stops a parent's spawned children", async () => {
  const s = startSupervisor(2);
  for (const id of ['a', 'b', 'c']) s.actor.send(enqueue(taskInput(id)));
  await until(() => s.inState('running').length === 2, 'two tasks running');
  const live = s.children();
  expect(live).toHaveLength(2);
  s.actor.getSnapshot().context.children.stopAll();
  await until(() => live.every((a) => a.getSnapshot().status === 'stopped'), 'the task actors to stop');
  // Their invoked watch subscriptions were stopped with them.
  for (const id of ['a', 'b']) expect(s.stubs.logs.get(id)?.observeStops).toBe(1);
  expect(s.errors).toEqual([]);
});
