import {
  assertEvent,
  assign,
  createActor,
  enqueueActions,
  setup,
  type ActorRefFrom,
  type AnyActorRef,
  type AnyStateMachine,
  type DoneActorEvent,
  type ErrorActorEvent,
} from 'xstate';
import type { TaskRecord } from '../../types.js';
import type { TaskEvent, TaskMachineInput, TaskToParentEvent } from '../task/contract.js';
import { resumeHoldsSlot } from '../task/restore.js';
import { taskMachine } from '../task/task-machine.js';
import { ChildIds } from './child-ids.js';
import { DelayedTasks } from './delayed-tasks.js';
import { taskSystemId, type SupervisorCommand, type SupervisorEmitted, type SupervisorInput } from './contract.js';
import { SlotLedger } from './slot-ledger.js';
import { TaskQueue } from './task-queue.js';

/** The supervisor's context. `queue` and `slots` are mutable objects (see {@link TaskQueue}). */
export interface SupervisorContext {
  maxConcurrentJobs: number;
  queue: TaskQueue;
  /** Tasks queued again with a back-off, until their time comes (then they join `queue`). */
  delayed: DelayedTasks;
  /** Priorities given with ENQUEUE/RESUME that differ from the spec's (kept for a task queued again). */
  priorities: Map<string, number>;
  slots: SlotLedger;
  /** The ids of the task actors alive, reused (see {@link ChildIds}). */
  children: ChildIds;
  /** Set by PAUSE: queued tasks stay queued. */
  paused: boolean;
  /** The newest time (epoch ms) the supervisor has heard of; stamps START. */
  now: number;
}

/** Every event the supervisor handles. */
export type SupervisorEvent = SupervisorCommand | TaskToParentEvent | DoneActorEvent<TaskRecord> | ErrorActorEvent;

const priorityOf = (task: TaskMachineInput, priority: number | undefined): number =>
  priority ?? task.spec.priority ?? 0;

/** Keeps a priority given apart from the spec's, for when the task is queued again. */
function rememberPriority(context: SupervisorContext, task: TaskMachineInput, priority: number | undefined): void {
  if (priority !== undefined && priority !== (task.spec.priority ?? 0)) context.priorities.set(task.taskId, priority);
}

/**
 * Creates and starts a task's actor with the supervisor as its parent, outside the supervisor's
 * snapshot (docs/decisions/007-task-actors-outside-the-supervisor-snapshot.md): its done and
 * error events reach the supervisor, `system.get(taskSystemId(id))` finds it and the system's
 * inspector sees it, as for a spawned child, but no snapshot is copied per spawn and stop. The
 * logic is the supervisor's `task` actor, as provided (`supervisorMachine.provide`). `first` is
 * sent once it has started.
 *
 * Called from a custom action, it defers the work to the end of the supervisor's step, where
 * `spawnChild` starts its actors too: the task's first steps then run after the supervisor's
 * snapshot is updated, and not inside a custom action (where XState warns of every `assign`).
 */
function startTaskActor(self: AnyActorRef, children: ChildIds, input: TaskMachineInput, first?: TaskEvent): void {
  const id = children.acquire(input.taskId);
  // The actor's scope is not public API; `defer` is how XState's own spawn delays a child's start.
  const supervisor = self as unknown as { logic: AnyStateMachine; _actorScope: { defer(fn: () => void): void } };
  supervisor._actorScope.defer(() => {
    const logic = supervisor.logic.implementations.actors['task'] as typeof taskMachine;
    const actor = createActor(logic, { parent: self, id, systemId: taskSystemId(input.taskId), input, src: 'task' });
    children.attach(id, actor);
    actor.start();
    if (first) actor.send(first);
  });
}

/**
 * Moves the tasks whose back-off has passed (at `now`) into the queue: before a new task joins it,
 * so one that waited keeps its place ahead of tasks that came later.
 */
function promoteDue(context: SupervisorContext, now = context.now): void {
  for (const { task, priority } of context.delayed.takeDue(now)) context.queue.enqueue(task, priority);
}

/**
 * An ENQUEUE or RESUME of a task the supervisor already has (queued, or with a live actor) is
 * refused: the event to emit, else `undefined`.
 */
function duplicateOf(
  context: SupervisorContext,
  system: { get(systemId: string): unknown },
  taskId: string,
): SupervisorEmitted | undefined {
  if (!context.queue.has(taskId) && !context.delayed.has(taskId) && !system.get(taskSystemId(taskId))) return undefined;
  return { type: 'task.rejected', taskId, reason: 'duplicate' };
}

/**
 * Owns the queue and the slots: starts one task actor per task when a slot is free (never more
 * than `maxConcurrentJobs` slots held), in priority order (aged by the wait with `priorityAging`,
 * at `context.now`) and FIFO within a priority, and lets
 * each task actor go once it is done, so live children stay at most the active tasks. Task actors
 * live in `context.children`, not in the snapshot's `children` (see {@link ChildIds}): whoever
 * runs the supervisor calls `context.children.stopAll()` when it stops.
 *
 * The queue is data, not idle actors: a queued task gets an actor only when it starts (or is
 * cancelled, so that its `queued → cancelled → deleted` history is recorded like any other).
 * The runner provides the task machine's effects with
 * `supervisorMachine.provide({ actors: { task: taskMachine.provide({ actors: effects }) } })`.
 */
export const supervisorMachine = setup({
  types: {
    context: {} as SupervisorContext,
    input: {} as SupervisorInput,
    events: {} as SupervisorEvent,
    emitted: {} as SupervisorEmitted,
  },
  actors: { task: taskMachine },
  actions: {
    enqueueTasks: enqueueActions(({ context, event, enqueue, system }) => {
      assertEvent(event, 'ENQUEUE');
      // As if each task came in an event of its own: the clock moves to each task's `createdAt`.
      let now = context.now;
      for (const { task, priority } of event.tasks) {
        const duplicate = duplicateOf(context, system, task.taskId);
        if (duplicate) {
          enqueue.emit(duplicate);
          continue;
        }
        promoteDue(context, now);
        rememberPriority(context, task, priority);
        context.queue.enqueue(task, priorityOf(task, priority));
        now = Math.max(now, Date.parse(task.createdAt) || 0);
      }
      if (now > context.now) enqueue.assign({ now });
    }),
    resumeTask: enqueueActions(({ context, event, enqueue, system }) => {
      assertEvent(event, 'RESUME');
      const { task } = event;
      const duplicate = duplicateOf(context, system, task.taskId);
      if (duplicate) {
        enqueue.emit(duplicate);
        return;
      }
      rememberPriority(context, task, event.priority);
      if (!task.resume || task.resume.state === 'queued') {
        const notBefore = task.resume?.context.notBefore;
        if (notBefore !== undefined && notBefore > context.now) {
          context.delayed.add(task, priorityOf(task, event.priority), notBefore);
          enqueue.emit({ type: 'task.waiting', taskId: task.taskId, until: notBefore });
        } else {
          promoteDue(context);
          context.queue.enqueue(task, priorityOf(task, event.priority));
        }
        return;
      }
      if (resumeHoldsSlot(task)) context.slots.hold(task.taskId);
      enqueue(({ self }) => startTaskActor(self, context.children, task));
    }),
    cancelTask: enqueueActions(({ context, event, enqueue, system }) => {
      assertEvent(event, 'CANCEL');
      if (event.at > context.now) enqueue.assign({ now: event.at });
      const queued = context.queue.remove(event.taskId) ?? context.delayed.remove(event.taskId);
      // Queued again after a retry: its actor is alive (in `queued`) and takes the CANCEL itself.
      const alive = system.get(taskSystemId(event.taskId)) as ActorRefFrom<typeof taskMachine> | undefined;
      if (queued && alive) {
        enqueue.sendTo(alive, { type: 'CANCEL', at: event.at });
        return;
      }
      if (queued) {
        // Its own actor takes it through cancelled → deleted without a slot or a Job.
        const cancel = { type: 'CANCEL', at: event.at } as const;
        enqueue(({ self }) => startTaskActor(self, context.children, queued, cancel));
        return;
      }
      // Resolve first: sendTo an unknown target throws (or, with an undefined ref, targets self).
      const live = system.get(taskSystemId(event.taskId)) as ActorRefFrom<typeof taskMachine> | undefined;
      if (live) enqueue.sendTo(live, { type: 'CANCEL', at: event.at });
    }),
    releaseSlot: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'TASK.SLOT_RELEASED');
      context.slots.release(event.taskId);
      if (event.at > context.now) enqueue.assign({ now: event.at });
    }),
    reportEffectFailure: enqueueActions(({ event, enqueue }) => {
      assertEvent(event, 'TASK.EFFECT_FAILED');
      enqueue.emit({ type: 'task.effectFailed', taskId: event.taskId, effect: event.effect, error: event.error });
    }),
    finishTask: enqueueActions(({ context, event, enqueue }) => {
      const done = event as DoneActorEvent<TaskRecord>;
      // A done actor has stopped itself (XState unregisters it): its id is free for the next one.
      const taskId = context.children.release(done.actorId);
      if (taskId === undefined) return;
      // The task released its slot on the way to `deleted`; this only guards the ledger.
      context.slots.release(taskId);
      context.priorities.delete(taskId);
      enqueue.emit({ type: 'task.finished', taskId, record: done.output });
    }),
    crashTask: enqueueActions(({ context, event, enqueue }) => {
      const failed = event as ErrorActorEvent;
      // A failed actor has stopped itself, as a done one.
      const taskId = context.children.release(failed.actorId);
      if (taskId === undefined) return;
      context.slots.release(taskId);
      context.priorities.delete(taskId);
      enqueue.emit({ type: 'task.crashed', taskId, error: failed.error });
    }),
    requeueTask: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'TASK.REQUEUED');
      if (event.at > context.now) enqueue.assign({ now: event.at });
      const priority = context.priorities.get(event.task.taskId) ?? priorityOf(event.task, undefined);
      context.delayed.add(event.task, priority, event.notBefore);
      enqueue.emit({
        type: 'task.waiting',
        taskId: event.task.taskId,
        until: event.notBefore,
        ...(event.waitingFor ? { waitingFor: event.waitingFor } : {}),
      });
    }),
    wake: assign({
      now: ({ context, event }) => {
        assertEvent(event, 'WAKE');
        return Math.max(context.now, event.at);
      },
    }),
    startQueued: enqueueActions(({ context, enqueue, system }) => {
      promoteDue(context);
      while (!context.paused && context.slots.size < context.maxConcurrentJobs) {
        const task = context.queue.dequeue(context.now);
        if (!task) return;
        context.slots.hold(task.taskId);
        const start = { type: 'START', at: context.now } as const;
        // A task queued again after a retry still has its actor (waiting in `queued`).
        const alive = system.get(taskSystemId(task.taskId)) as ActorRefFrom<typeof taskMachine> | undefined;
        if (alive) enqueue.sendTo(alive, start);
        else enqueue(({ self }) => startTaskActor(self, context.children, task, start));
        enqueue.emit({ type: 'task.started', taskId: task.taskId });
      }
    }),
  },
}).createMachine({
  id: 'supervisor',
  context: ({ input }) => ({
    maxConcurrentJobs: input.maxConcurrentJobs,
    queue: new TaskQueue(input.priorityAging),
    delayed: new DelayedTasks(),
    priorities: new Map(),
    slots: new SlotLedger(),
    children: new ChildIds(),
    paused: false,
    now: 0,
  }),
  on: {
    ENQUEUE: { actions: ['enqueueTasks', 'startQueued'] },
    RESUME: { actions: ['resumeTask', 'startQueued'] },
    CANCEL: { actions: 'cancelTask' },
    PAUSE: { actions: assign({ paused: true }) },
    'TASK.SLOT_RELEASED': { actions: ['releaseSlot', 'startQueued'] },
    'TASK.EFFECT_FAILED': { actions: 'reportEffectFailure' },
    'TASK.REQUEUED': { actions: ['requeueTask', 'startQueued'] },
    WAKE: { actions: ['wake', 'startQueued'] },
    'xstate.done.actor.*': { actions: ['finishTask', 'startQueued'] },
    'xstate.error.actor.*': { actions: ['crashTask', 'startQueued'] },
  },
});
