import { fromCallback } from 'xstate';
import type { AlarmCommand, AlarmInput, ClusterObservation, TaskEvent } from '../machines/task/contract.js';
import type { JobsPort } from '../ports/jobs-port.js';
import { fullJitterMs } from '../time/backoff.js';
import { maxTimerMs } from '../time/sleep.js';
import { effectStopped, type ReportEffectError } from './hooks.js';

/** How a failed fresh read at a deadline is retried before the watch's view decides after all. */
export interface FreshReadRetry {
  /** First wait after a failed read; doubles (plus full jitter) up to `maxDelayMs`. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Failed reads are retried for this long after the first one; then `ALARM` is sent on the watch's view. */
  limitMs: number;
}

export interface AlarmEffectOptions {
  /** Epoch ms. */
  now: () => number;
  /** Reads the Job and its pods fresh at a deadline; without it the alarm only tells the time. */
  jobs?: Pick<JobsPort, 'getJob' | 'listJobPods'>;
  /** @default { baseDelayMs: 1000, maxDelayMs: 30000, limitMs: 330000 } */
  freshReadRetry?: FreshReadRetry;
  /** Told of a failed fresh read (the task goes on). @default nothing */
  report?: ReportEffectError;
}

/**
 * `alarm`: once `now()` reaches `at`, reads the Job (one GET) and its pods (one LIST by the
 * job-name label) fresh from the API server, sends them as `CLUSTER.OBSERVED`, then sends
 * `{ type: 'ALARM', at: now() }`. The machine thus decides every deadline on a view no older than
 * the deadline: the shared watch may be blind (reconnecting, or stalled until its watchdog gives
 * up) while a pod starts, and its stale view would fail a task that is in fact running. The read
 * costs two requests per deadline reached, none per normal task.
 *
 * A failed read does not fire: it is retried with back-off until `freshReadRetry.limitMs` has
 * passed since the first failure (by then the watchdog has replaced a stalled watch), then `ALARM`
 * is sent and the watch's view decides. `{ type: 'ARM', at }` re-arms (`at: undefined` disarms).
 * Waits longer than a Node timer allows are chained.
 */
export function alarmEffect(options: AlarmEffectOptions) {
  const { now, jobs } = options;
  const retry = options.freshReadRetry ?? { baseDelayMs: 1000, maxDelayMs: 30_000, limitMs: 330_000 };
  return fromCallback<AlarmCommand, AlarmInput>(({ input, sendBack, receive }) => {
    const abort = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    /** Bumped by every arm: a read whose alarm was re-armed meanwhile schedules no retry. */
    let generation = 0;
    let failures = 0;
    let failingSince: number | undefined;

    const arm = (at: number | undefined, retrying = false): void => {
      clearTimeout(timer);
      timer = undefined;
      const armed = ++generation;
      if (!retrying) {
        failures = 0;
        failingSince = undefined;
      }
      if (at === undefined || stopped) return;
      const delay = at - now();
      timer = setTimeout(
        () => {
          timer = undefined;
          // A timer may fire a little before `now()` agrees; the machine would ignore an early ALARM.
          if (now() < at) arm(at, retrying);
          else void fire(armed);
        },
        Math.min(Math.max(0, delay), maxTimerMs),
      );
    };

    const fire = async (armed: number): Promise<void> => {
      const jobName = input.jobName;
      if (jobs && jobName !== undefined && !stopped) {
        let observation: ClusterObservation | undefined;
        try {
          observation = await readFresh(jobs, jobName, now, abort.signal);
        } catch (error) {
          if (stopped || armed !== generation) return;
          options.report?.(error, { taskId: input.taskId ?? jobName, effect: 'alarm (fresh read of the Job)' });
          failures++;
          failingSince ??= now();
          if (now() - failingSince < retry.limitMs) {
            arm(now() + retry.baseDelayMs + fullJitterMs(failures, retry.baseDelayMs, retry.maxDelayMs), true);
            return;
          }
          // Still failing at the limit: decide on the watch's view rather than wait forever.
        }
        if (observation && !stopped) sendBack({ type: 'CLUSTER.OBSERVED', observation } satisfies TaskEvent);
      }
      if (!stopped) sendBack({ type: 'ALARM', at: now() } satisfies TaskEvent);
    };

    receive((command) => {
      if (command.type === 'ARM') arm(command.at);
    });
    arm(input.at);
    return () => {
      stopped = true;
      clearTimeout(timer);
      abort.abort(effectStopped);
    };
  });
}

/** The Job and its pods as the API server has them now. */
async function readFresh(
  jobs: Pick<JobsPort, 'getJob' | 'listJobPods'>,
  jobName: string,
  now: () => number,
  signal: AbortSignal,
): Promise<ClusterObservation> {
  const [job, pods] = await Promise.all([jobs.getJob(jobName, signal), jobs.listJobPods(jobName, signal)]);
  return { job: job ?? null, pods, at: now(), fresh: true };
}
