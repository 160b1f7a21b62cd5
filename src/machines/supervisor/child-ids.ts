import type { AnyActorRef } from 'xstate';

/**
 * The supervisor's task actors: their ids, reused once an actor is done, and the actors
 * themselves. Task actors are created with the supervisor as parent but outside its snapshot's
 * `children` (docs/decisions/007-task-actors-outside-the-supervisor-snapshot.md): XState copies
 * that object on every spawn and stop, a cost that grows with the actors alive. So the
 * supervisor keeps them here, and stops them itself when it stops ({@link ChildIds.stopAll}).
 *
 * Why ids are reused: XState memoizes a machine's transitions per event type for the life of the
 * machine, and each child's `xstate.done.actor.<id>` is an event type of its own: one id per task
 * would grow that memo by an entry per task, forever. Drawn from this pool, ids are at most the
 * task actors alive at once. A task's actor is found by its system id (`taskSystemId`), not by
 * this one. Mutable, kept in the supervisor's context like the queue and the slots.
 */
export class ChildIds {
  /** Child id → task id, for the actors alive. */
  readonly #taskIds = new Map<string, string>();
  /** Child id → the actor, once created (see {@link ChildIds.attach}). */
  readonly #actors = new Map<string, AnyActorRef>();
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

  /** Remembers the actor created under an acquired id. */
  attach(childId: string, actor: AnyActorRef): void {
    this.#actors.set(childId, actor);
  }

  /** The task actors alive. */
  actors(): AnyActorRef[] {
    return [...this.#actors.values()];
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
    this.#actors.delete(childId);
    this.#free.push(childId);
    return taskId;
  }

  /**
   * Stops every task actor alive, as XState stops a parent's children when the parent stops:
   * their pending events are dropped and their invoked effects stopped. The supervisor calls
   * this when it stops or fails (XState does not know these actors are its children).
   */
  stopAll(): void {
    for (const actor of this.#actors.values()) {
      // XState's own `stopChild` calls this: `stop()` is refused for an actor with a parent.
      (actor as unknown as { _stop(): void })._stop();
    }
  }

  toJSON(): { alive: number; ids: number } {
    return { alive: this.size, ids: this.#next };
  }
}
