import type { PodLog } from '../ports/job-logs.js';
import type { LogSnapshot } from '../store/contract.js';

/** The stored form of a capped log read. */
export function toLogSnapshot(taskId: string, log: PodLog, final: boolean, now: () => number): LogSnapshot {
  return {
    taskId,
    text: log.text,
    totalBytes: log.totalBytes,
    truncated: log.truncated,
    final,
    capturedAt: new Date(now()).toISOString(),
    pod: log.pod,
    container: log.container,
  };
}

/**
 * The periodic snapshot write in flight per task, shared by `snapshotLogs` and `harvestLogs`, so
 * that the final snapshot is never overtaken by an older periodic one.
 */
export class SnapshotWrites {
  readonly #writes = new Map<string, Promise<void>>();

  /** Tracks `write` as the task's periodic write until it settles; resolves or rejects like it. */
  async track(taskId: string, write: Promise<void>): Promise<void> {
    this.#writes.set(taskId, write);
    try {
      await write;
    } finally {
      if (this.#writes.get(taskId) === write) this.#writes.delete(taskId);
    }
  }

  /** Resolves once the task's periodic write in flight, if any, settled (its failure was reported already). */
  async settled(taskId: string): Promise<void> {
    await this.#writes.get(taskId)?.catch(() => undefined);
  }
}
