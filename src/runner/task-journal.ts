import { messageOf } from '../errors.js';
import type { SaveExtras, TaskSave, TaskStore } from '../store/contract.js';
import type { TaskRecord, Transition } from '../types.js';

/**
 * Writes task records and transitions to the store and remembers, per task, the last write still
 * in flight — so an effect can wait until the transition that started it is durable
 * (write-ahead: intent on disk before the request leaves).
 *
 * A write that fails is fatal for the runner (memory and disk would disagree): `onFatal` is told
 * once, and the error is also returned to whoever awaits that write.
 */
export class TaskJournal {
  readonly #inFlight = new Map<string, Promise<void>>();
  #fatal = false;
  #lastWriteAt: number | undefined;
  #lastError: string | undefined;

  /**
   * @param onDurable Told of the transitions of each write once it is durable, in the order the
   *   store applied them (the replicas' notifications; a no-op for a runner of its own).
   */
  constructor(
    private readonly store: TaskStore,
    private readonly onFatal: (err: unknown) => void,
    private readonly onDurable: (transitions: readonly Transition[]) => void = () => undefined,
  ) {}

  /** Queues the record (and transition) for the store; resolves once durable. */
  write(record: TaskRecord, transition?: Transition, extras?: SaveExtras): Promise<void> {
    return this.#track([record.id], this.store.saveTask(record, transition, extras), transition ? [transition] : []);
  }

  /** Queues the first records of new tasks as one batch (one transaction); resolves once all are durable. */
  writeNew(saves: readonly TaskSave[]): Promise<void> {
    return this.#track(
      saves.map((save) => save.record.id),
      this.store.saveNewTasks(saves),
      saves.flatMap((save) => save.transition ?? []),
    );
  }

  #track(taskIds: readonly string[], write: Promise<void>, transitions: readonly Transition[]): Promise<void> {
    for (const id of taskIds) this.#inFlight.set(id, write);
    // This handler also marks the rejection as handled; awaiting callers still see it.
    write.then(
      () => {
        this.#lastWriteAt = Date.now();
        for (const id of taskIds) this.#settle(id, write);
        if (transitions.length > 0) this.onDurable(transitions);
      },
      (err: unknown) => {
        for (const id of taskIds) this.#settle(id, write);
        this.#lastError = messageOf(err);
        if (!this.#fatal) {
          this.#fatal = true;
          this.onFatal(err);
        }
      },
    );
    return write;
  }

  #settle(taskId: string, write: Promise<void>): void {
    if (this.#inFlight.get(taskId) === write) this.#inFlight.delete(taskId);
  }

  /**
   * Rejects if that write failed. Resolves when every write queued so far for this task is durable. The store applies
   * one task's writes in order, so waiting for the latest suffices.
   */
  async whenDurable(taskId: string): Promise<void> {
    await this.#inFlight.get(taskId);
  }

  /**
   * What the writes so far say of the store: writable until one failed (a failed write is fatal,
   * so it stays false); when the last write succeeded and why one failed (epoch ms, message).
   */
  health(): { writable: boolean; lastWriteAt?: number; lastError?: string } {
    return {
      writable: !this.#fatal,
      ...(this.#lastWriteAt !== undefined ? { lastWriteAt: this.#lastWriteAt } : {}),
      ...(this.#lastError !== undefined ? { lastError: this.#lastError } : {}),
    };
  }

  /** Resolves when every queued write has settled (failures are reported through `onFatal`). */
  async flush(): Promise<void> {
    await Promise.allSettled(this.#inFlight.values());
  }
}
