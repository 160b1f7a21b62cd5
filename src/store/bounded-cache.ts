/**
 * A least-recently-used map with a fixed capacity. Relies on `Map` keeping insertion order:
 * touching an entry re-inserts it at the end, eviction takes the first.
 */
export class BoundedCache<K, V> {
  readonly #entries = new Map<K, V>();
  /**
   * The keys from the least recently used on, kept from one eviction to the next. A `Map`
   * iterator stays valid while the map changes and only moves forward, and every entry it has
   * passed was evicted or moved to the end, so each eviction resumes where the last one stopped.
   * A new `keys()` per eviction walked again over every deleted slot V8 leaves at the front of
   * the table until its next rehash: about 7 µs per eviction at 10,000 entries, 10× this way.
   */
  #oldest: MapIterator<K> | undefined;

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
    if (value !== undefined) {
      this.#entries.delete(key);
      this.#entries.set(key, value);
    }
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
    this.#entries.delete(key);
    this.#entries.set(key, value);
    if (this.#entries.size > this.capacity) this.#evictOldest();
  }

  delete(key: K): void {
    this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
    this.#oldest = undefined;
  }

  /** The values, least recently used first. */
  values(): MapIterator<V> {
    return this.#entries.values();
  }

  #evictOldest(): void {
    let next = this.#oldest?.next();
    // None yet (or, defensively, one that finished: it would stay finished): start a new one.
    if (next === undefined || next.done === true) {
      this.#oldest = this.#entries.keys();
      next = this.#oldest.next();
    }
    if (next.done !== true) this.#entries.delete(next.value);
  }
}
