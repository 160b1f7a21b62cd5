import {
  assertEvent,
  assign,
  enqueueActions,
  setup,
  type ActorRefFrom,
  type DoneActorEvent,
  type ErrorActorEvent,
} from 'xstate';
import type { TaskRecord } from '../../types.js';
import type { TaskMachineInput, TaskToParentEvent } from '../task/contract.js';
import { resumeHoldsSlot } from '../task/restore.js';
import { taskMachine } from '../task/task-machine.js';
import { ChildIds } from './child-ids.js';
import { taskSystemId, type SupervisorCommand, type SupervisorEmitted, type SupervisorInput } from './contract.js';
import { SlotLedger } from './slot-ledger.js';
import { TaskQueue } from './task-queue.js';

/** The supervisor's context. `queue` and `slots` are mutable objects (see {@link TaskQueue}). */
export interface SupervisorContext {
  maxConcurrentJobs: number;
  queue: TaskQueue;
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

/**
 * An ENQUEUE or RESUME of a task the supervisor already has (queued, or with a live actor) is
 * refused: the event to emit, else `undefined`.
 */
function duplicateOf(
  context: SupervisorContext,
  system: { get(systemId: string): unknown },
  taskId: string,
): SupervisorEmitted | undefined {
  if (!context.queue.has(taskId) && !system.get(taskSystemId(taskId))) return undefined;
  return { type: 'task.rejected', taskId, reason: 'duplicate' };
}

/**
 * Owns the queue and the slots: spawns one task actor per task when a slot is free (never more
 * than `maxConcurrentJobs` slots held), in priority order and FIFO within a priority, and stops
 * each task actor once it is done, so live children stay at most the active tasks.
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
    enqueueTask: enqueueActions(({ context, event, enqueue, system }) => {
      assertEvent(event, 'ENQUEUE');
      const { task } = event;
      const duplicate = duplicateOf(context, system, task.taskId);
      if (duplicate) {
        enqueue.emit(duplicate);
        return;
      }
      context.queue.enqueue(task, priorityOf(task, event.priority));
      const created = Date.parse(task.createdAt);
      if (created > context.now) enqueue.assign({ now: created });
    }),
    resumeTask: enqueueActions(({ context, event, enqueue, system }) => {
      assertEvent(event, 'RESUME');
      const { task } = event;
      const duplicate = duplicateOf(context, system, task.taskId);
      if (duplicate) {
        enqueue.emit(duplicate);
        return;
      }
      if (!task.resume || task.resume.state === 'queued') {
        context.queue.enqueue(task, priorityOf(task, event.priority));
        return;
      }
      if (resumeHoldsSlot(task)) context.slots.hold(task.taskId);
      const id = context.children.acquire(task.taskId);
      enqueue.spawnChild('task', { id, systemId: taskSystemId(task.taskId), input: task });
    }),
    cancelTask: enqueueActions(({ context, event, enqueue, system }) => {
      assertEvent(event, 'CANCEL');
      if (event.at > context.now) enqueue.assign({ now: event.at });
      const queued = context.queue.remove(event.taskId);
      if (queued) {
        // Its own actor takes it through cancelled → deleted without a slot or a Job.
        const id = context.children.acquire(event.taskId);
        enqueue.spawnChild('task', { id, systemId: taskSystemId(event.taskId), input: queued });
        enqueue.sendTo(id, { type: 'CANCEL', at: event.at });
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
      // Stopped in this step, so the id is free for the next actor (see `ChildIds`).
      const taskId = context.children.release(done.actorId);
      if (taskId === undefined) return;
      enqueue.stopChild(done.actorId);
      // The task released its slot on the way to `deleted`; this only guards the ledger.
      context.slots.release(taskId);
      enqueue.emit({ type: 'task.finished', taskId, record: done.output });
    }),
    crashTask: enqueueActions(({ context, event, enqueue }) => {
      const failed = event as ErrorActorEvent;
      const taskId = context.children.release(failed.actorId);
      if (taskId === undefined) return;
      enqueue.stopChild(failed.actorId);
      context.slots.release(taskId);
      enqueue.emit({ type: 'task.crashed', taskId, error: failed.error });
    }),
    startQueued: enqueueActions(({ context, enqueue }) => {
      while (!context.paused && context.slots.size < context.maxConcurrentJobs) {
        const task = context.queue.dequeue();
        if (!task) return;
        const id = context.children.acquire(task.taskId);
        context.slots.hold(task.taskId);
        enqueue.spawnChild('task', { id, systemId: taskSystemId(task.taskId), input: task });
        enqueue.sendTo(id, { type: 'START', at: context.now });
        enqueue.emit({ type: 'task.started', taskId: task.taskId });
      }
    }),
  },
}).createMachine({
  id: 'supervisor',
  context: ({ input }) => ({
    maxConcurrentJobs: input.maxConcurrentJobs,
    queue: new TaskQueue(),
    slots: new SlotLedger(),
    children: new ChildIds(),
    paused: false,
    now: 0,
  }),
  on: {
    ENQUEUE: { actions: ['enqueueTask', 'startQueued'] },
    RESUME: { actions: ['resumeTask', 'startQueued'] },
    CANCEL: { actions: 'cancelTask' },
    PAUSE: { actions: assign({ paused: true }) },
    'TASK.SLOT_RELEASED': { actions: ['releaseSlot', 'startQueued'] },
    'TASK.EFFECT_FAILED': { actions: 'reportEffectFailure' },
    'xstate.done.actor.*': { actions: ['finishTask', 'startQueued'] },
    'xstate.error.actor.*': { actions: ['crashTask', 'startQueued'] },
  },
});
