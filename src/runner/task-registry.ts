import type { TaskRecord, TaskState } from '../types.js';

/**
 * The runner's in-memory view of every task it knows: the latest record of each, a count of
 * queued tasks (for `queueSize`), and the waiters of `waitFor`. Records enter it only after the
 * store accepted them, so memory never runs ahead of disk for `addTask`.
 */
export class TaskRegistry {
  readonly #records = new Map<string, TaskRecord>();
  readonly #waiters = new Map<string, Set<{ resolve: (record: TaskRecord) => void; reject: (err: unknown) => void }>>();
  #queued = 0;

  /** @param onUpdate Told of every record stored, after it is (the runner's `task$` streams). */
  constructor(private readonly onUpdate: (record: TaskRecord) => void = () => undefined) {}

  get(id: string): TaskRecord | undefined {
    return this.#records.get(id);
  }

  has(id: string): boolean {
    return this.#records.has(id);
  }

  /** Tasks in state `queued`. */
  get queuedCount(): number {
    return this.#queued;
  }

  get size(): number {
    return this.#records.size;
  }

  /** Stores the newest record of a task; resolves `waitFor` callers once it is `deleted`. */
  update(record: TaskRecord): void {
    const previous = this.#records.get(record.id);
    if (previous?.state === 'queued') this.#queued--;
    if (record.state === 'queued') this.#queued++;
    this.#records.set(record.id, record);
    if (record.state === 'deleted') {
      const waiters = this.#waiters.get(record.id);
      this.#waiters.delete(record.id);
      for (const waiter of waiters ?? []) waiter.resolve(record);
    }
    this.onUpdate(record);
  }

  /** Records in insertion order, optionally only those in `state`. */
  list(state?: TaskState): TaskRecord[] {
    const all = [...this.#records.values()];
    return state ? all.filter((r) => r.state === state) : all;
  }

  /**
   * Resolves with the record once the task is `deleted` (at once if it is). Aborting `signal`
   * rejects with its reason and removes the waiter (an abandoned wait holds nothing).
   */
  waitFor(id: string, signal?: AbortSignal): Promise<TaskRecord> {
    const record = this.#records.get(id);
    if (record?.state === 'deleted') return Promise.resolve(record);
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    return new Promise((resolve, reject) => {
      let set = this.#waiters.get(id);
      if (!set) {
        set = new Set();
        this.#waiters.set(id, set);
      }
      // What `rejectWaiters` passes on is whatever the runner was given (its close reason).
      const fail: (err: unknown) => void = reject;
      const onAbort = (): void => {
        const waiters = this.#waiters.get(id);
        waiters?.delete(waiter);
        if (waiters?.size === 0) this.#waiters.delete(id);
        reject(signal?.reason as Error);
      };
      // Settling either way detaches from the signal, so a long-lived signal keeps no waiter alive.
      const waiter = {
        resolve: (r: TaskRecord) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(r);
        },
        reject: (err: unknown) => {
          signal?.removeEventListener('abort', onAbort);
          fail(err);
        },
      };
      set.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Pending `waitFor` callers, over every task (tests prove abandoned waits leave none). */
  get waiterCount(): number {
    let count = 0;
    for (const set of this.#waiters.values()) count += set.size;
    return count;
  }

  /** Rejects every pending `waitFor` (on shutdown or a fatal error). */
  rejectWaiters(err: unknown): void {
    const all = [...this.#waiters.values()];
    this.#waiters.clear();
    for (const set of all) for (const waiter of set) waiter.reject(err);
  }
}
