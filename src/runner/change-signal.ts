import type { ChangeSource } from '../ports/job-logs.js';

/**
 * "Something changed" as an RxJS observer, for a loop that must not miss a change that happens
 * between reading the state and waiting: each change bumps a version the loop compares with.
 */
export class ChangeSignal implements ChangeSource {
  #version = 0;
  #ended = false;
  #failure: { error: unknown } | undefined;
  #wake: (() => void) | undefined;

  /** Bumped by every change. */
  get version(): number {
    return this.#version;
  }

  /** True once the source completed. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Throws what the source failed with, if it did. */
  throwIfFailed(): void {
    if (this.#failure) throw this.#failure.error;
  }

  /** A change. */
  next(): void {
    this.#version++;
    this.#poke();
  }

  /** The source ended: nothing will change any more. */
  complete(): void {
    this.#ended = true;
    this.#poke();
  }

  /** The source failed: the waiting loop rethrows `error`. */
  error(error: unknown): void {
    this.#failure = { error };
    this.#poke();
  }

  /** Resolves at the first change after version `seen` (at once if there was one), at the source's end, or on abort. */
  async since(seen: number, signal: AbortSignal): Promise<void> {
    if (this.#version !== seen || this.#ended || this.#failure || signal.aborted) return;
    const poke = (): void => this.#poke();
    signal.addEventListener('abort', poke, { once: true });
    try {
      await new Promise<void>((resolve) => (this.#wake = resolve));
    } finally {
      signal.removeEventListener('abort', poke);
    }
  }

  #poke(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
