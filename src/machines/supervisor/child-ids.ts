/**
 * The ids of the supervisor's task actors (their keys in `snapshot.children`), reused once an
 * actor is stopped. XState memoizes a machine's transitions per event type for the life of the
 * machine, and each child's `xstate.done.actor.<id>` is an event type of its own: one id per task
 * would grow that memo by an entry per task, forever. Drawn from this pool, ids are at most the
 * task actors alive at once. A task's actor is found by its system id (`taskSystemId`), not by
 * this one. Mutable, kept in the supervisor's context like the queue and the slots.
 */
export class ChildIds {
  /** Child id → task id, for the actors alive. */
  readonly #taskIds = new Map<string, string>();
  readonly #free: string[] = [];
  #next = 0;

  /** Actors alive. */
  get size(): number {
    return this.#taskIds.size;
  }

  /** An id for the task's new actor: a free one, else a new one. */
  acquire(taskId: string): string {
    const id = this.#free.pop() ?? `task#${String(this.#next++)}`;
    this.#taskIds.set(id, taskId);
    return id;
  }

  /** The task whose actor has this id; `undefined` for an id not handed out (not a task actor). */
  taskIdOf(childId: string): string | undefined {
    return this.#taskIds.get(childId);
  }

  /** Frees the id of a stopped actor; returns its task id (`undefined`: not handed out, or freed already). */
  release(childId: string): string | undefined {
    const taskId = this.#taskIds.get(childId);
    if (taskId === undefined) return undefined;
    this.#taskIds.delete(childId);
    this.#free.push(childId);
    return taskId;
  }

  toJSON(): { alive: number; ids: number } {
    return { alive: this.size, ids: this.#next };
  }
}
