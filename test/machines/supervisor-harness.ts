import { createActor, type ActorRefFrom, type AnyActorRef, type InspectionEvent } from 'xstate';
import type { SupervisorEmitted } from '../../src/machines/supervisor/contract.js';
import { taskSystemId } from '../../src/machines/supervisor/contract.js';
import { supervisorMachine } from '../../src/machines/supervisor/supervisor-machine.js';
import type { TaskContext } from '../../src/machines/task/contract.js';
import { taskMachine } from '../../src/machines/task/task-machine.js';
import type { TaskState } from '../../src/types.js';
import { stubActors, type StubBehaviour } from './harness.js';

type TaskRef = ActorRefFrom<typeof taskMachine>;

/** Awaits a condition, yielding to the event loop between checks (effects settle on promises). */
export async function until(probe: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 10_000; i++) {
    if (probe()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * A supervisor over the real task machine with stub effects. Every actor snapshot in the system
 * is inspected, so the tests can check invariants at every instant, not just at the end.
 */
export function startSupervisor(
  maxConcurrentJobs: number,
  behaviour: StubBehaviour = {},
  provideTask: (m: typeof taskMachine) => typeof taskMachine = (m) => m,
) {
  const stubs = stubActors(behaviour);
  const machine = supervisorMachine.provide({
    actors: { task: provideTask(taskMachine.provide({ actors: stubs.actors })) },
  });
  const emitted: SupervisorEmitted[] = [];
  const errors: unknown[] = [];
  const peak = { slotsHeld: 0, ledger: 0, active: 0, children: 0, doneChildren: 0 };
  // Filled in below: inspection already fires while createActor runs.
  const holder: { supervisor?: ReturnType<typeof createActor<typeof machine>> } = {};

  // Task actors live in the supervisor's context, not its snapshot's `children` (decision record 007).
  const tasks = (): TaskRef[] => (holder.supervisor?.getSnapshot().context.children.actors() ?? []) as TaskRef[];
  const sample = (event: InspectionEvent): void => {
    const supervisor = holder.supervisor;
    if (!supervisor) return;
    if (event.type === '@xstate.snapshot' && event.actorRef === supervisor) {
      // Whenever the supervisor has finished a step, no finished task may linger among its children.
      const done = tasks().filter((t) => t.getSnapshot().status === 'done').length;
      peak.doneChildren = Math.max(peak.doneChildren, done);
    }
    const live = tasks().map((t) => t.getSnapshot());
    const slotsHeld = live.filter((s) => (s.context as TaskContext).slotHeld).length;
    const active = live.filter((s) => s.value === 'creating' || s.value === 'running').length;
    peak.slotsHeld = Math.max(peak.slotsHeld, slotsHeld);
    peak.active = Math.max(peak.active, active);
    peak.children = Math.max(peak.children, live.length);
    peak.ledger = Math.max(peak.ledger, supervisor.getSnapshot().context.slots.size);
  };

  const actor = createActor(machine, { input: { maxConcurrentJobs }, inspect: sample });
  holder.supervisor = actor;
  actor.on('*', (e) => emitted.push(e));
  actor.subscribe({ error: (err) => errors.push(err) });
  actor.start();

  const task = (id: string): TaskRef | undefined => actor.system.get(taskSystemId(id)) as TaskRef | undefined;
  return {
    actor,
    stubs,
    emitted,
    errors,
    peak,
    tasks,
    task,
    stateOf: (id: string): TaskState | undefined => task(id)?.getSnapshot().value,
    inState: (state: TaskState): string[] =>
      tasks()
        .filter((t) => t.getSnapshot().value === state)
        .map((t) => t.getSnapshot().context.taskId),
    finished: (): string[] => emitted.flatMap((e) => (e.type === 'task.finished' ? [e.taskId] : [])),
    started: (): string[] => emitted.flatMap((e) => (e.type === 'task.started' ? [e.taskId] : [])),
    createdOrder: (): string[] =>
      stubs.timeline.filter((c) => c.startsWith('create:')).map((c) => c.slice('create:'.length)),
    ledger: () => actor.getSnapshot().context.slots.size,
    children: (): AnyActorRef[] => actor.getSnapshot().context.children.actors(),
  };
}
