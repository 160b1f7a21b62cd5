import { groupResidentMemory, procAvailable } from './process-memory.js';

/**
 * How often (real ms, not scaled: it is the workload's time) the process runtime samples the
 * memory of containers that have a limit. It bounds the overshoot: a container growing at
 * 100 MiB/s is killed within about 5 MiB of its limit.
 */
export const memorySampleIntervalMs = 50;

interface WatchedGroup {
  limitBytes: number;
  onExceeded: (usedBytes: number) => void;
}

/**
 * The process runtime's stand-in for the memory cgroup: it samples the resident memory of the
 * process groups it watches and reports a group whose processes together use more than its limit.
 * One timer and one pass over /proc serve every watched group; with none watched, nothing runs.
 * Where /proc is missing (not Linux) nothing can be measured and {@link MemoryMonitor.enforced}
 * is false: watches are accepted and never fire.
 */
export class MemoryMonitor {
  /** Whether limits are enforced on this host (it has /proc). */
  readonly enforced = procAvailable();
  readonly #groups = new Map<number, WatchedGroup>();
  #timer?: NodeJS.Timeout;

  /** Process groups being sampled right now. */
  get sampledGroups(): number {
    return this.#groups.size;
  }

  /**
   * Samples process group `group` until the returned function is called, and calls `onExceeded`
   * once (then stops sampling it) when its processes use more than `limitBytes` together.
   */
  watch(group: number, limitBytes: number, onExceeded: (usedBytes: number) => void): () => void {
    if (!this.enforced) return () => {};
    this.#groups.set(group, { limitBytes, onExceeded });
    this.#timer ??= setInterval(() => this.#sample(), memorySampleIntervalMs).unref();
    return () => this.#forget(group);
  }

  #forget(group: number): void {
    this.#groups.delete(group);
    if (this.#groups.size > 0 || !this.#timer) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #sample(): void {
    let usage: Map<number, number>;
    try {
      usage = groupResidentMemory(new Set(this.#groups.keys()));
    } catch (err) {
      // A transient /proc failure must not bring the cluster down: the next sample tries again.
      process.emitWarning(
        `kubelet: sampling container memory failed: ${err instanceof Error ? err.stack : String(err)}`,
      );
      return;
    }
    for (const [group, watched] of [...this.#groups]) {
      const used = usage.get(group) ?? 0;
      if (used <= watched.limitBytes) continue;
      this.#forget(group);
      watched.onExceeded(used);
    }
  }
}
