/**
 * Which tasks hold a slot. A set rather than a count, so that a release is idempotent and a
 * crashed task's slot can be freed without knowing whether it had already released it.
 * Mutable, kept in the supervisor's context like the queue.
 */
export class SlotLedger {
  readonly #holders = new Set<string>();

  get size(): number {
    return this.#holders.size;
  }

  has(taskId: string): boolean {
    return this.#holders.has(taskId);
  }

  hold(taskId: string): void {
    this.#holders.add(taskId);
  }

  /** Returns whether the task held a slot. */
  release(taskId: string): boolean {
    return this.#holders.delete(taskId);
  }

  toJSON(): { held: number; holders: string[] } {
    return { held: this.size, holders: [...this.#holders].slice(0, 100) };
  }
}
