/**
 * The supervisor's contract with the runner: its input, the events it accepts and the events it
 * emits (listen with `supervisor.on(type, handler)`).
 */
import type { TaskRecord } from '../../types.js';
import type { TaskMachineInput } from '../task/contract.js';
import type { PriorityAging } from './task-queue.js';

/** The supervisor's input. */
export interface SupervisorInput {
  /** Slots: tasks active at once (from `creating` until their Job finished or was deleted). */
  maxConcurrentJobs: number;
  /** A queued task's priority grows with its wait (see {@link PriorityAging}); absent: strict priority. */
  priorityAging?: PriorityAging;
}

/** A new task for the queue, at `priority` (the spec's, or one given apart from it). */
export interface QueuedTask {
  task: TaskMachineInput;
  priority: number;
}

/** Events the runner sends the supervisor. */
export type SupervisorCommand =
  /**
   * Queue new tasks, in order: the runner sends the tasks made durable in one turn together (one
   * event, one step of the supervisor, for a whole commit). It has checked `queueSize` and
   * duplicate ids.
   */
  | { type: 'ENQUEUE'; tasks: readonly QueuedTask[] }
  /** Cancel a queued or live task; an unknown id is ignored (the runner checks existence). */
  | { type: 'CANCEL'; taskId: string; at: number }
  /** Bring back a task restored from its record: queued ones are queued again, others spawned into their state. */
  | { type: 'RESUME'; task: TaskMachineInput; priority?: number }
  /** Stop starting queued tasks (shutdown 'detach'/'drain'); live tasks go on. */
  | { type: 'PAUSE' }
  /** The time is `at` (epoch ms): tasks queued again with a back-off that has passed may start. */
  | { type: 'WAKE'; at: number };

/** Events the supervisor emits for the runner. */
export type SupervisorEmitted =
  /** A queued task took a slot and was sent START. */
  | { type: 'task.started'; taskId: string }
  /** A task reached `deleted` and its actor was stopped. */
  | { type: 'task.finished'; taskId: string; record: TaskRecord }
  /** A task actor failed unexpectedly (a bug): it was stopped and its slot freed. */
  | { type: 'task.crashed'; taskId: string; error: unknown }
  /** A side effect of a task failed without changing its course (log snapshots, the final log read). */
  | { type: 'task.effectFailed'; taskId: string; effect: 'snapshotLogs' | 'harvestLogs'; error: unknown }
  /**
   * A task was queued again (after a quota refusal or a retry, its slot released and its Job
   * deleted): it may not start before `until` (epoch ms). The runner sends WAKE then.
   */
  | { type: 'task.waiting'; taskId: string; until: number; waitingFor?: 'quota' }
  /** An ENQUEUE or RESUME for a task the supervisor already has was ignored. */
  | { type: 'task.rejected'; taskId: string; reason: 'duplicate' };

/** The system id of a task's actor: `supervisor.system.get(taskSystemId(id))`. */
export const taskSystemId = (taskId: string): string => `task:${taskId}`;
