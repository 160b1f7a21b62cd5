import type { TaskMachineInput } from '../task/contract.js';

interface Delayed {
  task: TaskMachineInput;
  priority: number;
  /** Epoch ms before which the task may not start. */
  notBefore: number;
}

/**
 * Tasks queued again with a back-off (after a quota refusal or a retry), until their time comes:
 * then they join the queue like any other. Few at a time (at most the active tasks' number per
 * back-off), so a scan for the due ones is cheap. A mutable object in the supervisor's context,
 * like the queue (docs/decisions/005).
 */
export class DelayedTasks {
  readonly #byId = new Map<string, Delayed>();

  get size(): number {
    return this.#byId.size;
  }

  has(taskId: string): boolean {
    return this.#byId.has(taskId);
  }

  add(task: TaskMachineInput, priority: number, notBefore: number): void {
    this.#byId.set(task.taskId, { task, priority, notBefore });
  }

  remove(taskId: string): TaskMachineInput | undefined {
    const found = this.#byId.get(taskId);
    this.#byId.delete(taskId);
    return found?.task;
  }

  /** Removes and returns the tasks whose time has come at `now`, oldest deadline first. */
  takeDue(now: number): { task: TaskMachineInput; priority: number }[] {
    const due = [...this.#byId.values()].filter((d) => d.notBefore <= now).sort((a, b) => a.notBefore - b.notBefore);
    for (const d of due) this.#byId.delete(d.task.taskId);
    return due;
  }

  /** The earliest time a delayed task may start, or undefined when none waits. */
  earliest(): number | undefined {
    let earliest: number | undefined;
    for (const d of this.#byId.values()) if (earliest === undefined || d.notBefore < earliest) earliest = d.notBefore;
    return earliest;
  }

  /** What `JSON.stringify` and the inspector see. */
  toJSON(): { size: number; next: number | undefined } {
    return { size: this.size, next: this.earliest() };
  }
}
