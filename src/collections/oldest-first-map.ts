/**
 * A `Map` whose oldest entry (the least recently set) is found in constant time, however many
 * entries have gone from its front. `set` makes an entry the newest; nothing else reorders.
 *
 * `new Map().keys().next()` walks over every deleted slot V8 leaves at the front of the table
 * until its next rehash: about 7 µs at 10,000 entries when each set evicts the oldest. This keeps
 * one iterator from one call of `oldest()` to the next instead: a `Map` iterator stays valid while
 * the map changes, goes on over entries added after it was made and never back, and every entry
 * it has passed was deleted or set again (moved to the end, where it will reach it again).
 */
export class OldestFirstMap<K, V> {
  readonly #entries = new Map<K, V>();
  #cursor: MapIterator<[K, V]> | undefined;
  /** The entry the cursor gave last, while that entry is still where the cursor found it. */
  #head: [K, V] | undefined;
  /**
   * Changes since the cursor last stepped. A live iterator keeps every table V8 has rehashed the
   * map into since its last step, so a cursor nothing steps (the oldest entry stays while others
   * come and go) would hold a new table per rehash without end: 55 bytes per change in a test of
   * 1,000 entries. Past `size` changes without a step it is dropped; the next `oldest()` starts a
   * new one, its walk over the deleted slots paid for by those changes.
   */
  #changesSinceStep = 0;

  get size(): number {
    return this.#entries.size;
  }

  get(key: K): V | undefined {
    return this.#entries.get(key);
  }

  has(key: K): boolean {
    return this.#entries.has(key);
  }

  /** Sets the value and makes the entry the newest, wherever it was. */
  set(key: K, value: V): void {
    this.#entries.delete(key);
    this.#entries.set(key, value);
    this.#changed(key);
  }

  delete(key: K): boolean {
    const deleted = this.#entries.delete(key);
    if (deleted) this.#changed(key);
    return deleted;
  }

  clear(): void {
    this.#entries.clear();
    this.#forgetCursor();
  }

  /** The values, oldest first. */
  values(): MapIterator<V> {
    return this.#entries.values();
  }

  /** The oldest entry, or `undefined` when the map is empty. */
  oldest(): readonly [K, V] | undefined {
    if (this.#head !== undefined) return this.#head;
    let step = this.#cursor?.next();
    // None yet, or one that finished: a finished iterator stays finished, even for entries added
    // after it, so start a new one.
    if (step === undefined || step.done === true) {
      this.#cursor = this.#entries.entries();
      step = this.#cursor.next();
    }
    this.#changesSinceStep = 0;
    this.#head = step.done === true ? undefined : step.value;
    return this.#head;
  }

  #changed(key: K): void {
    if (this.#head !== undefined && this.#head[0] === key) this.#head = undefined;
    if (this.#cursor !== undefined && ++this.#changesSinceStep > this.#entries.size) this.#forgetCursor();
  }

  #forgetCursor(): void {
    this.#cursor = undefined;
    this.#head = undefined;
    this.#changesSinceStep = 0;
  }
}
