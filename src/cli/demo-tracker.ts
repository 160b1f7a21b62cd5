/**
 * What the demo's views show about each task, built from `runner.transitions$` (and the record
 * of a task once it has an outcome, for its reason).
 */
import type { TaskOutcome, TaskRecord, TaskState, Transition } from '../types.js';
import { reasonOf } from './format.js';

/** One task as the views show it. */
export interface TrackedTask {
  id: string;
  /** Undefined until the task is submitted. */
  state?: TaskState;
  /** Epoch ms it was queued. */
  queuedAt?: number;
  /** Epoch ms it left the queue. */
  dequeuedAt?: number;
  /** Epoch ms it reached its outcome. */
  finishedAt?: number;
  outcome?: TaskOutcome;
  /** `exit code 3 (BackoffLimitExceeded)`, `ImagePullBackOff`…; empty until known, or for a success. */
  reason: string;
}

/** Counts for the progress line. */
export interface Progress {
  total: number;
  finished: number;
  running: number;
  queued: number;
}

/** The tasks of the demo, in submission order, as their transitions arrive. */
export class DemoTracker {
  readonly #tasks = new Map<string, TrackedTask>();

  constructor(ids: readonly string[]) {
    for (const id of ids) this.#tasks.set(id, { id, reason: '' });
  }

  /** Applies one transition. */
  apply(transition: Transition): void {
    const task = this.#tasks.get(transition.taskId);
    if (!task) return;
    const at = Date.parse(transition.at);
    task.state = transition.to;
    if (transition.from === null) task.queuedAt = at;
    if (transition.from === 'queued') task.dequeuedAt = at;
    if (transition.outcome && task.outcome === undefined) {
      task.outcome = transition.outcome;
      task.finishedAt = at;
    }
  }

  /** Notes the reason from the task's record (once it has an outcome). */
  noteRecord(record: TaskRecord): void {
    const task = this.#tasks.get(record.id);
    if (task) task.reason = reasonOf(record);
  }

  /** Task `id`, if it is one of the demo's. */
  get(id: string): TrackedTask | undefined {
    return this.#tasks.get(id);
  }

  /** Every task, in submission order. */
  tasks(): TrackedTask[] {
    return [...this.#tasks.values()];
  }

  /** How many tasks are finished, running (submitted, neither queued nor finished) and queued. */
  progress(): Progress {
    const tasks = this.tasks();
    const finished = tasks.filter((t) => t.outcome !== undefined).length;
    const queued = tasks.filter((t) => t.state === 'queued').length;
    const running = tasks.filter(
      (t) => t.state !== undefined && t.state !== 'queued' && t.outcome === undefined,
    ).length;
    return { total: tasks.length, finished, queued, running };
  }

  /** Whether every task has its outcome. */
  done(): boolean {
    return this.tasks().every((t) => t.outcome !== undefined);
  }
}
