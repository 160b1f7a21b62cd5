import type { SimClock } from './clock.js';
import type { KubeObject } from './types.js';

/** `cache.MetaNamespaceKeyFunc`: the `namespace/name` key controllers queue objects by. */
export function objectKey(obj: KubeObject): string {
  return `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
}

/** `cache.SplitMetaNamespaceKey`. */
export function splitObjectKey(key: string): [namespace: string, name: string] {
  const slash = key.indexOf('/');
  return [key.slice(0, slash), key.slice(slash + 1)];
}

export interface WorkQueueOptions {
  clock: SimClock;
  /**
   * Handles one key. Returning `'retry'` (a failure already reported, e.g. as an Event) or
   * throwing requeues it with exponential back-off (1 s → 1 min, cluster time).
   */
  handle: (key: string) => 'retry' | void;
  /** Told about every failed attempt (the key is retried). */
  onError: (key: string, err: unknown) => void;
  /** Keys handled per turn of the event loop, so a burst never starves the HTTP server. @default 200 */
  batchSize?: number;
}

/**
 * client-go's delaying, de-duplicating work queue (`workqueue.TypedRateLimitingInterface`),
 * for a single-threaded process: a key is pending at most once, adding it again with an
 * earlier due time moves it forward, and a later one is ignored. Handlers run outside the
 * store's listener dispatch, as controllers run outside the informers' callbacks.
 */
export class WorkQueue {
  readonly #options: WorkQueueOptions;
  /** Due time (real epoch ms) and timer of each pending key. */
  readonly #timers = new Map<string, { due: number; cancel: () => void }>();
  readonly #ready = new Set<string>();
  readonly #failures = new Map<string, number>();
  #draining = false;
  #stopped = false;

  constructor(options: WorkQueueOptions) {
    this.#options = options;
  }

  /** Queues `key` after `delayMs` real milliseconds (0 = on the next turn). */
  addAfter(key: string, delayMs: number): void {
    if (this.#stopped || this.#ready.has(key)) return;
    const due = this.#options.clock.now() + Math.max(0, delayMs);
    const pending = this.#timers.get(key);
    if (pending && pending.due <= due) return;
    pending?.cancel();
    if (delayMs <= 0) {
      this.#timers.delete(key);
      this.#markReady(key);
      return;
    }
    const cancel = this.#options.clock.afterReal(delayMs, () => {
      this.#timers.delete(key);
      this.#markReady(key);
    });
    this.#timers.set(key, { due, cancel });
  }

  /** Queues `key` on the next turn. */
  add(key: string): void {
    this.addAfter(key, 0);
  }

  stop(): void {
    this.#stopped = true;
    for (const { cancel } of this.#timers.values()) cancel();
    this.#timers.clear();
    this.#ready.clear();
  }

  #markReady(key: string): void {
    if (this.#stopped) return;
    this.#ready.add(key);
    if (!this.#draining) {
      this.#draining = true;
      this.#options.clock.afterReal(0, () => this.#drain());
    }
  }

  #retry(key: string): void {
    const failures = (this.#failures.get(key) ?? 0) + 1;
    this.#failures.set(key, failures);
    // DefaultJobApiBackOff / MaxJobApiBackOff, in cluster time.
    this.addAfter(key, Math.min(1000 * 2 ** (failures - 1), 60_000) * this.#options.clock.timeScale);
  }

  #drain(): void {
    if (this.#stopped) return;
    // A snapshot: keys re-added while this batch runs wait for the next turn.
    const batch: string[] = [];
    const limit = this.#options.batchSize ?? 200;
    for (const key of this.#ready) {
      if (batch.length >= limit) break;
      batch.push(key);
    }
    for (const key of batch) {
      if (this.#stopped) return;
      this.#ready.delete(key);
      let retry: boolean;
      try {
        retry = this.#options.handle(key) === 'retry';
      } catch (err) {
        retry = true;
        this.#options.onError(key, err);
      }
      if (retry) this.#retry(key);
      else this.#failures.delete(key);
    }
    if (this.#ready.size > 0 && !this.#stopped) this.#options.clock.afterReal(0, () => this.#drain());
    else this.#draining = false;
  }
}
