/**
 * Group commit with per-key coalescing. Writes queued while the store is idle are collected until
 * the next turn of the event loop; writes queued while a batch is being written wait for it and go
 * out together as the next batch (up to {@link maxBatchEntries}, then the one after). So at most
 * one batch is in flight, and per key the newest value always wins: a key appears once per batch
 * (its latest value there), and batch n+1 starts only after batch n is written. Under load batches
 * grow by themselves; idle, a write waits one tick.
 */
import { messageOf, StoreError } from '../errors.js';

/** Writes one batch (every entry, or throws). */
export type BatchWriter = (entries: ReadonlyMap<string, unknown>) => Promise<void>;

interface Waiters {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: StoreError) => void;
}

const waiters = (): Waiters => {
  let resolve!: () => void;
  let reject!: (err: StoreError) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
};

interface Batch {
  entries: Map<string, unknown>;
  waiters: Waiters;
}

/**
 * Entries per batch, about (one call's entries are never split). Beyond it a new batch starts: a
 * burst then goes out as several transactions in a row instead of one huge one, which bounds the
 * memory a batch takes to serialize and the time it holds the write lock. The cost per transaction
 * is small in WAL mode (no fsync per commit with `synchronous=NORMAL`).
 */
export const maxBatchEntries = 4000;

/**
 * The write queue of one store. After a batch fails, every waiter of that batch and of the batches
 * queued behind it is rejected, and so is every later write: what follows a lost write must not
 * land on disk as if nothing was lost (memory and disk would disagree silently).
 */
export class GroupCommit {
  /** Batches not yet written, oldest first; the last one takes new entries while it has room. */
  #queue: Batch[] = [];
  #inFlight: Batch | undefined;
  #running: Promise<void> | undefined;
  #scheduled = false;
  #failure: StoreError | undefined;

  constructor(
    private readonly writeBatch: BatchWriter,
    /** The store's location, for errors. */
    private readonly location: string,
    private readonly batchLimit = maxBatchEntries,
  ) {}

  /**
   * Queues the entries (together in one batch); resolves once that batch is written, rejects with
   * a `StoreError` if it is not.
   */
  enqueue(entries: ReadonlyArray<readonly [key: string, value: unknown]>): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failedBefore());
    let tail = this.#queue.at(-1);
    if (!tail || tail.entries.size >= this.batchLimit) {
      tail = { entries: new Map(), waiters: waiters() };
      this.#queue.push(tail);
    }
    for (const [key, value] of entries) tail.entries.set(key, value);
    // A batch in flight picks the queued ones up as soon as it is written.
    if (!this.#inFlight && !this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        this.#start();
      });
    }
    return tail.waiters.promise;
  }

  /** The newest value queued for `key` and not yet written, if any. */
  peek(key: string): { value: unknown } | undefined {
    for (let i = this.#queue.length - 1; i >= 0; i--) {
      const entries = this.#queue[i]?.entries;
      if (entries?.has(key)) return { value: entries.get(key) };
    }
    if (this.#inFlight?.entries.has(key)) return { value: this.#inFlight.entries.get(key) };
    return undefined;
  }

  /** Writes everything queued so far now; resolves when nothing is queued or in flight. */
  async drain(): Promise<void> {
    while (this.#running || this.#queue.length > 0) {
      this.#start();
      await this.#running;
    }
  }

  #start(): void {
    if (this.#running || this.#queue.length === 0) return;
    this.#running = this.#run().then(() => {
      this.#running = undefined;
    });
  }

  async #run(): Promise<void> {
    while (!this.#failure) {
      const batch = this.#queue.shift();
      if (!batch) return;
      this.#inFlight = batch;
      try {
        // The batch's own map (nothing adds to a batch once it left the queue): no pair per entry.
        await this.writeBatch(batch.entries);
        batch.waiters.resolve();
      } catch (err) {
        this.#failure = new StoreError(
          `writing a batch of ${batch.entries.size} entries failed: ${messageOf(err)}`,
          this.location,
          { cause: err },
        );
        batch.waiters.reject(this.#failure);
        for (const behind of this.#queue.splice(0)) behind.waiters.reject(this.#failedBefore());
      } finally {
        this.#inFlight = undefined;
      }
    }
  }

  #failedBefore(): StoreError {
    return new StoreError('an earlier write failed, the store accepts no more writes', this.location, {
      cause: this.#failure,
    });
  }
}
