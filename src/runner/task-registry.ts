import { BoundedCache } from '../collections/bounded-cache.js';
import type { TaskRecord, TaskState } from '../types.js';

/** Finished records the registry keeps by default once they are durable (see {@link TaskRegistry}). */
export const defaultFinishedCacheSize = 1000;

/**
 * The runner's in-memory view of its tasks: the latest record of every open task, a small cache
 * of recently finished ones, a count of queued tasks (for `queueSize`), and the waiters of
 * `waitFor`. Records enter it only after the store accepted them, so memory never runs ahead of
 * disk for `addTask`.
 *
 * Memory is bounded by the open tasks: a `deleted` record stays with the open ones until
 * {@link TaskRegistry.evict} is called (once its write is durable, so the store answers for it),
 * then moves to a least-recently-used cache of `finishedCacheSize` records. Anything not here is
 * the store's: callers fall back to it.
 */
export class TaskRegistry {
  /** Open tasks, and finished ones whose `deleted` record is not durable yet. */
  readonly #records = new Map<string, TaskRecord>();
  /** Finished and durable, the most recently used `finishedCacheSize`; none when that is 0. */
  readonly #finished: BoundedCache<string, TaskRecord> | undefined;
  readonly #waiters = new Map<string, Set<{ resolve: (record: TaskRecord) => void; reject: (err: unknown) => void }>>();
  #queued = 0;

  /**
   * @param onUpdate Told of every record stored, after it is (the runner's `task$` streams).
   * @param finishedCacheSize Durable finished records kept in memory (the most recently used).
   */
  constructor(
    private readonly onUpdate: (record: TaskRecord) => void = () => undefined,
    finishedCacheSize = defaultFinishedCacheSize,
  ) {
    this.#finished = finishedCacheSize > 0 ? new BoundedCache(finishedCacheSize) : undefined;
  }

  /** The task's record if it is in memory (open, or finished recently); else ask the store. */
  get(id: string): TaskRecord | undefined {
    const record = this.#records.get(id);
    if (record) return record;
    // Refreshes its place in the cache.
    return this.#finished?.get(id);
  }

  has(id: string): boolean {
    return this.#records.has(id) || this.#finished?.has(id) === true;
  }

  /** Tasks in state `queued`. */
  get queuedCount(): number {
    return this.#queued;
  }

  /** Records in memory: open tasks plus the finished cache. */
  get size(): number {
    return this.#records.size + (this.#finished?.size ?? 0);
  }

  /** Open tasks (and finished ones not yet durable); `size - openCount` is the finished cache. */
  get openCount(): number {
    return this.#records.size;
  }

  /**
   * Stores the newest record of a task; resolves `waitFor` callers once it is `deleted` (the record
   * stays among the open ones until {@link TaskRegistry.evict}).
   */
  update(record: TaskRecord): void {
    this.#finished?.delete(record.id);
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

  /**
   * Moves a finished task out of the open records once its `deleted` record is durable: into the
   * finished cache, whose least recently used record then leaves memory when it is full. Its
   * waiters were resolved when the record arrived, and its streams were told then, so nothing
   * waits on it here. A task not `deleted` is left alone.
   */
  evict(id: string): void {
    const record = this.#records.get(id);
    if (record?.state !== 'deleted') return;
    this.#records.delete(id);
    this.#finished?.set(id, record);
  }

  /**
   * Drops a finished task the store no longer holds (purged by retention): `get` then answers
   * undefined, as the store does. An open task of that id (the id used again) is left alone.
   */
  forget(id: string): void {
    this.#finished?.delete(id);
    if (this.#records.get(id)?.state === 'deleted') this.#records.delete(id);
  }

  /** Records in memory (open tasks, then the finished cache), optionally only those in `state`. */
  list(state?: TaskState): TaskRecord[] {
    const all = [...this.#records.values(), ...(this.#finished?.values() ?? [])];
    return state ? all.filter((r) => r.state === state) : all;
  }

  /**
   * Resolves with the record once the task is `deleted` (at once if it is). Aborting `signal`
   * rejects with its reason and removes the waiter (an abandoned wait holds nothing). An id not in
   * memory waits for its next record: ask the store first, a finished task may have left memory.
   */
  waitFor(id: string, signal?: AbortSignal): Promise<TaskRecord> {
    const record = this.get(id);
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
