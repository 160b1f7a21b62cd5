import { OldestFirstMap } from './oldest-first-map.js';

/**
 * A least-recently-used map with a fixed capacity: touching an entry makes it the newest,
 * eviction takes the oldest (in constant time, see `OldestFirstMap`).
 */
export class BoundedCache<K, V> {
  readonly #entries = new OldestFirstMap<K, V>();

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The value, marked as most recently used. */
  get(key: K): V | undefined {
    const value = this.#entries.get(key);
    if (value !== undefined) this.#entries.set(key, value);
    return value;
  }

  /** The value, its place left as it is. */
  peek(key: K): V | undefined {
    return this.#entries.get(key);
  }

  has(key: K): boolean {
    return this.#entries.has(key);
  }

  /** Stores the value as most recently used, evicting the least recently used past capacity. */
  set(key: K, value: V): void {
    this.#entries.set(key, value);
    if (this.#entries.size > this.capacity) {
      const oldest = this.#entries.oldest();
      if (oldest !== undefined) this.#entries.delete(oldest[0]);
    }
  }

  delete(key: K): void {
    this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }

  /** The values, least recently used first. */
  values(): MapIterator<V> {
    return this.#entries.values();
  }
}
