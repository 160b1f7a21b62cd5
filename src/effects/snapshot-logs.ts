import { fromCallback, type EventObject } from 'xstate';
import type { SnapshotLogsInput } from '../machines/task/contract.js';
import type { JobObserver } from '../ports/job-observer.js';
import type { JobsPort } from '../ports/jobs-port.js';
import type { TaskStore } from '../store/contract.js';
import { effectStopped, type ReportEffectError } from './hooks.js';
import { toLogSnapshot, type SnapshotWrites } from './log-snapshots.js';

export interface SnapshotLogsEffectOptions {
  jobs: Pick<JobsPort, 'readJobLog'>;
  observer: Pick<JobObserver, 'current'>;
  store: Pick<TaskStore, 'putLogSnapshot'>;
  writes: SnapshotWrites;
  /** Time between two snapshots (ms). */
  intervalMs: number;
  now: () => number;
  report: ReportEffectError;
}

/** `snapshotLogs`: every interval, a capped read of the newest pod's log into the store (never two at once). */
export function snapshotLogsEffect(options: SnapshotLogsEffectOptions) {
  const { jobs, observer, store, writes, intervalMs, now, report } = options;
  return fromCallback<EventObject, SnapshotLogsInput>(({ input }) => {
    const abort = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    let lastTotal = -1;
    const tick = async (): Promise<void> => {
      const pods = observer.current(input.jobName)?.pods ?? [];
      // Until the watch shows a pod there is nothing to read (and no LIST is spent finding out).
      if (pods.length === 0) return;
      const log = await jobs.readJobLog(input.jobName, { pods, signal: abort.signal });
      if (!log || log.totalBytes === lastTotal || abort.signal.aborted) return;
      await writes.track(input.taskId, store.putLogSnapshot(toLogSnapshot(input.taskId, log, false, now)));
      lastTotal = log.totalBytes;
    };
    const onFailure = (error: unknown): void => {
      if (!abort.signal.aborted) report(error, { taskId: input.taskId, effect: 'snapshotLogs' });
    };
    const schedule = (): void => {
      timer = setTimeout(() => {
        void tick()
          .catch(onFailure)
          .finally(() => {
            if (!abort.signal.aborted) schedule();
          });
      }, intervalMs);
    };
    schedule();
    return () => {
      abort.abort(effectStopped);
      clearTimeout(timer);
    };
  });
}
