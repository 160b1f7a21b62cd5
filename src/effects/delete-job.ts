import { fromPromise } from 'xstate';
import type { DeleteJobInput, DeleteJobOutput } from '../machines/task/contract.js';
import type { JobObserver } from '../ports/job-observer.js';
import type { JobsPort } from '../ports/jobs-port.js';
import { fullJitterMs } from '../time/backoff.js';
import type { Sleep } from '../time/sleep.js';
import type { BeforeEffect } from './hooks.js';

export interface DeleteJobEffectOptions {
  jobs: Pick<JobsPort, 'deleteJob' | 'getJob'>;
  observer: Pick<JobObserver, 'observe'>;
  now: () => number;
  sleep: Sleep;
  /** The first GET that checks a deleted Job is gone comes after this long (then doubling). */
  deleteCheckMs: number;
  beforeEffect: BeforeEffect;
}

/** Whether a view of the Job's name shows our Job gone: deleted (`null`), or replaced by another uid. */
type IsGone = (job: { uid: string } | null | undefined) => boolean;

/**
 * `deleteJob`: deletes the Job (the configured propagation policy; 404 = done) and resolves once it
 * is gone (with the time it was seen gone): the watch shows it deleted (or replaced by another Job
 * of that name), or a GET finds none.
 */
export function deleteJobEffect(options: DeleteJobEffectOptions) {
  const { jobs, now, beforeEffect } = options;
  return fromPromise<DeleteJobOutput, DeleteJobInput>(async ({ input, signal }) => {
    await beforeEffect(input.taskId);
    const result = await jobs.deleteJob(input.jobName, { uid: input.jobUid, signal });
    if (result === 'absent') return { at: now() };
    const { jobUid } = input;
    const isGone: IsGone = (job) => job === null || (jobUid !== undefined && job !== undefined && job.uid !== jobUid);
    await untilGone(options, input.jobName, isGone, signal);
    signal.throwIfAborted();
    return { at: now() };
  });
}

/** What the way that did not see the Job gone first is aborted with (a reason: no DOMException built). */
const raceSettled = new Error('the Job was seen gone another way');

/** Resolves once the watch or a GET shows the Job gone, or `signal` aborts. */
async function untilGone(
  options: DeleteJobEffectOptions,
  jobName: string,
  isGone: IsGone,
  signal: AbortSignal,
): Promise<void> {
  const local = new AbortController();
  const both = AbortSignal.any([signal, local.signal]);
  const seen = seenGone(options.observer, jobName, isGone, both);
  const checked = checkedGone(options, jobName, isGone, both);
  try {
    await Promise.race([seen, checked]);
  } finally {
    local.abort(raceSettled);
    // The loser only ever ends by this abort: its rejection is expected, not an error.
    checked.catch(() => undefined);
  }
}

/** Resolves when the shared watch shows the Job gone; never settles if `signal` aborts first. */
function seenGone(
  observer: DeleteJobEffectOptions['observer'],
  jobName: string,
  isGone: IsGone,
  signal: AbortSignal,
): Promise<void> {
  return new Promise<void>((resolve) => {
    // Already aborted (the actor stopped as the delete was answered): an 'abort' listener added
    // now would never run, and the observation would be left on the watch for good.
    if (signal.aborted) return;
    const unsubscribe = observer.observe(jobName, (o) => {
      if (!isGone(o.job)) return;
      resolve();
      queueMicrotask(unsubscribe);
    });
    signal.addEventListener('abort', unsubscribe, { once: true });
  });
}

/** GETs the Job after a growing, jittered wait (in case the watch is behind) until none is found. */
async function checkedGone(
  options: DeleteJobEffectOptions,
  jobName: string,
  isGone: IsGone,
  signal: AbortSignal,
): Promise<void> {
  const { jobs, sleep, deleteCheckMs } = options;
  for (let round = 1; ; round++) {
    const jitter = fullJitterMs(1, deleteCheckMs / 4, deleteCheckMs / 4);
    await sleep(deleteCheckMs * 2 ** Math.min(round - 1, 4) + jitter, signal);
    const job = await jobs.getJob(jobName, signal);
    if (!job || isGone(job)) return;
  }
}
