import { fromPromise } from 'xstate';
import { messageOf } from '../errors.js';
import { lastLines } from '../logs/capped-log.js';
import type { HarvestLogsInput, HarvestLogsOutput } from '../machines/task/contract.js';
import type { PodLog } from '../ports/job-logs.js';
import type { JobObserver } from '../ports/job-observer.js';
import type { JobsPort } from '../ports/jobs-port.js';
import type { LogSnapshot, TaskStore } from '../store/contract.js';
import { fullJitterMs } from '../time/backoff.js';
import type { Sleep } from '../time/sleep.js';
import type { BeforeEffect } from './hooks.js';
import { toLogSnapshot, type SnapshotWrites } from './log-snapshots.js';

/** Events kept on a failure record (the newest). */
export const maxFailureEvents = 20;

/** How a failed final read is retried. */
export interface HarvestRetryPolicy {
  /** Give up once this long has passed since the task's outcome (`finishedAt`). */
  limitMs: number;
  /** Back-off between reads: full jitter from `baseDelayMs`, doubling, capped at `maxDelayMs`. */
  baseDelayMs: number;
  maxDelayMs: number;
}

export interface HarvestLogsEffectOptions {
  jobs: Pick<JobsPort, 'readJobLog'>;
  observer: Pick<JobObserver, 'ready' | 'current' | 'events'>;
  store: Pick<TaskStore, 'putLogSnapshot' | 'getLogSnapshot'>;
  writes: SnapshotWrites;
  /** Log lines kept for a failure record. */
  lineCount: number;
  retry: HarvestRetryPolicy;
  now: () => number;
  sleep: Sleep;
  beforeEffect: BeforeEffect;
}

/**
 * `harvestLogs`: the final capped read of the newest pod's log, stored with `final: true`; resolves
 * only once that write is durable. When no log can be read any more (the pod is gone, or the last
 * pod never started), the last periodic snapshot becomes the final one.
 *
 * A read that fails (403 on `pods/log`, the API still failing after the client's own retries) is
 * retried with back-off while the task stays in its outcome state, so the Job and its pods are
 * kept. Once `retry.limitMs` has passed since `input.finishedAt` (a durable time: a restarted
 * runner keeps counting from it) the logs are declared lost: the final snapshot says why (keeping
 * the text of the last periodic one, if any) and the output carries `lost`. Only a store failure
 * rejects.
 */
export function harvestLogsEffect(options: HarvestLogsEffectOptions) {
  const { jobs, observer, store, writes, lineCount, retry, now, sleep, beforeEffect } = options;
  return fromPromise<HarvestLogsOutput, HarvestLogsInput>(async ({ input, signal }) => {
    const output = await harvest(input, signal);
    return input.failed ? { ...output, events: await failureEvents(input.jobName, signal) } : output;
  });

  /**
   * A failed task's record keeps the events of its Job and pods, whether or not anything looked
   * wrong while it ran: read now, before the Job is deleted (and its events with it, in time).
   * A failed read is said in their place; it does not hold up the cleanup.
   */
  async function failureEvents(jobName: string, signal: AbortSignal): Promise<string[]> {
    try {
      return (await observer.events(jobName, signal)).slice(-maxFailureEvents);
    } catch (err) {
      if (signal.aborted) throw err;
      return [`(the events of Job "${jobName}" could not be read: ${messageOf(err)})`];
    }
  }

  async function harvest(input: HarvestLogsInput, signal: AbortSignal): Promise<HarvestLogsOutput> {
    const { taskId, jobName } = input;
    await beforeEffect(taskId);
    await writes.settled(taskId);
    await observer.ready();
    const since = input.finishedAt === undefined ? now() : Date.parse(input.finishedAt);
    const giveUpAt = (Number.isNaN(since) ? now() : since) + retry.limitMs;
    let log: PodLog | undefined;
    let failed: unknown;
    for (let attempt = 1; ; attempt++) {
      try {
        // A watch that shows no pod may be behind (its pod watch dropped or relisting after a 410),
        // not proof that none is left: then the read lists the Job's pods itself.
        const pods = observer.current(jobName)?.pods;
        log = await jobs.readJobLog(jobName, { ...(pods?.length ? { pods } : {}), signal });
        break;
      } catch (err) {
        // Stopped (the runner detaches): not a failure of the logs, the next runner harvests.
        if (signal.aborted) throw err;
        failed = err;
        const left = giveUpAt - now();
        if (left <= 0) {
          return declareLost(input, `could not be read within ${retry.limitMs} ms (logs.harvestRetryLimitMs)`, err);
        }
        await sleep(Math.min(left, fullJitterMs(attempt, retry.baseDelayMs, retry.maxDelayMs)), signal);
      }
    }
    // The pod went away while its reads were failing (e.g. the Job's TTL removed it): lost too.
    if (!log && failed !== undefined) return declareLost(input, 'were gone before a read succeeded', failed);
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
    await store.putLogSnapshot(
      log
        ? toLogSnapshot(taskId, log, true, now)
        : noLogSnapshot(taskId, now, 'no pod of the Job was left to read logs from'),
    );
    return { lastLines: [] };
  }

  /** Lost: the final logs of the Job `what` (e.g. "could not be read within …"); `err` the last read's error. */
  async function declareLost(input: HarvestLogsInput, what: string, err: unknown): Promise<HarvestLogsOutput> {
    const { taskId, jobName } = input;
    const reason = `the final logs of Job "${jobName}" ${what}: ${messageOf(err)}`;
    const previous = await store.getLogSnapshot(taskId);
    // What a periodic snapshot caught is all there is: kept as the final one (the record says
    // the rest was lost). With none, an empty final snapshot says why.
    if (previous && previous.totalBytes > 0) {
      if (!previous.final) await store.putLogSnapshot({ ...previous, final: true });
      return { lastLines: lastLines(previous.text, lineCount), lost: { reason } };
    }
    await store.putLogSnapshot(noLogSnapshot(taskId, now, reason));
    return { lastLines: [], lost: { reason } };
  }
}

/** The final snapshot of a task whose logs could not be read, and why. */
function noLogSnapshot(taskId: string, now: () => number, unavailable: string): LogSnapshot {
  return {
    taskId,
    text: '',
    totalBytes: 0,
    truncated: false,
    final: true,
    capturedAt: new Date(now()).toISOString(),
    unavailable,
  };
}
