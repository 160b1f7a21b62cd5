/**
 * Point reads coalesced into multi-key reads. The reads asked for while the store is idle are
 * collected until the next turn of the event loop; those asked for while a read is under way wait
 * for it and go out together as the next one (up to {@link maxReadBatchKeys} keys each). So at
 * most one read is in flight, and a burst of reads (every `addTask` looks its id up first) costs
 * a few `SELECT … WHERE key IN (…)` instead of one query, one thread-pool round trip and one
 * promise chain per key. Idle, a read waits one tick.
 */

/** Reads the stored values of `keys` (absent keys left out). */
export type ManyReader = (keys: readonly string[]) => Promise<Map<string, unknown>>;

/** Keys per read: one `IN (…)` list of SQLite's reads (see `keyv-access.ts`). */
export const maxReadBatchKeys = 500;

interface Waiter {
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/** The read queue of one store; a failed read rejects only the reads it carried. */
export class ReadBatcher {
  /** Keys not yet read, in the order first asked for, each with everyone waiting for it. */
  #queued = new Map<string, Waiter[]>();
  #running: Promise<void> | undefined;
  #scheduled = false;

  constructor(
    private readonly readMany: ManyReader,
    private readonly batchLimit = maxReadBatchKeys,
  ) {}

  /** The stored value of `key`, or `undefined`; rejects with the reader's error. */
  read(key: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const waiting = this.#queued.get(key);
      if (waiting) waiting.push({ resolve, reject });
      else this.#queued.set(key, [{ resolve, reject }]);
      if (!this.#running && !this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => {
          this.#scheduled = false;
          this.#start();
        });
      }
    });
  }

  /** Reads everything queued now; resolves when nothing is queued or in flight. */
  async drain(): Promise<void> {
    while (this.#running || this.#queued.size > 0) {
      this.#start();
      await this.#running;
    }
  }

  #start(): void {
    if (this.#running || this.#queued.size === 0) return;
    this.#running = this.#run().finally(() => {
      this.#running = undefined;
    });
  }

  async #run(): Promise<void> {
    while (this.#queued.size > 0) {
      const batch = new Map<string, Waiter[]>();
      for (const [key, waiters] of this.#queued) {
        if (batch.size >= this.batchLimit) break;
        batch.set(key, waiters);
        this.#queued.delete(key);
      }
      try {
        const found = await this.readMany([...batch.keys()]);
        for (const [key, waiters] of batch) for (const waiter of waiters) waiter.resolve(found.get(key));
      } catch (err) {
        for (const waiters of batch.values()) for (const waiter of waiters) waiter.reject(err);
      }
    }
  }
}
