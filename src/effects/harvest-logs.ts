import { fromPromise } from 'xstate';
import { lastLines } from '../logs/capped-log.js';
import type { HarvestLogsInput, HarvestLogsOutput } from '../machines/task/contract.js';
import type { JobObserver } from '../ports/job-observer.js';
import type { JobsPort } from '../ports/jobs-port.js';
import type { LogSnapshot, TaskStore } from '../store/contract.js';
import type { BeforeEffect } from './hooks.js';
import { toLogSnapshot, type SnapshotWrites } from './log-snapshots.js';

export interface HarvestLogsEffectOptions {
  jobs: Pick<JobsPort, 'readJobLog'>;
  observer: Pick<JobObserver, 'ready' | 'current'>;
  store: Pick<TaskStore, 'putLogSnapshot' | 'getLogSnapshot'>;
  writes: SnapshotWrites;
  /** Log lines kept for a failure record. */
  lineCount: number;
  now: () => number;
  beforeEffect: BeforeEffect;
}

/**
 * `harvestLogs`: the final capped read of the newest pod's log, stored with `final: true`; resolves
 * only once that write is durable. When no log can be read any more (the pod is gone, or the last
 * pod never started), the last periodic snapshot becomes the final one.
 */
export function harvestLogsEffect(options: HarvestLogsEffectOptions) {
  const { jobs, observer, store, writes, lineCount, now, beforeEffect } = options;
  return fromPromise<HarvestLogsOutput, HarvestLogsInput>(async ({ input, signal }) => {
    const { taskId, jobName } = input;
    await beforeEffect(taskId);
    await writes.settled(taskId);
    await observer.ready();
    const log = await jobs.readJobLog(jobName, { pods: observer.current(jobName)?.pods, signal });
    if (log && log.totalBytes > 0) {
      await store.putLogSnapshot(toLogSnapshot(taskId, log, true, now));
      return { lastLines: lastLines(log.text, lineCount) };
    }
    const previous = await store.getLogSnapshot(taskId);
    if (previous && previous.totalBytes > 0) {
      if (!previous.final) await store.putLogSnapshot({ ...previous, final: true });
      return { lastLines: lastLines(previous.text, lineCount) };
    }
    // Nothing to read (no pod left, or a container that never wrote): still store a final
    // snapshot, so every finished task has readable logs and the reason there are none.
    await store.putLogSnapshot(log ? toLogSnapshot(taskId, log, true, now) : noLogSnapshot(taskId, now));
    return { lastLines: [] };
  });
}

/** The final snapshot of a task whose Job had no pod left to read. */
function noLogSnapshot(taskId: string, now: () => number): LogSnapshot {
  return {
    taskId,
    text: '',
    totalBytes: 0,
    truncated: false,
    final: true,
    capturedAt: new Date(now()).toISOString(),
    unavailable: 'no pod of the Job was left to read logs from',
  };
}
