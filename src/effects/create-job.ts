import { fromPromise } from 'xstate';
import type { CreateJobInput, CreateJobOutput } from '../machines/task/contract.js';
import type { JobObserver } from '../ports/job-observer.js';
import type { JobsPort } from '../ports/jobs-port.js';
import type { BeforeEffect } from './hooks.js';

export interface CreateJobEffectOptions {
  jobs: Pick<JobsPort, 'createJob'>;
  observer: Pick<JobObserver, 'created'>;
  beforeEffect: BeforeEffect;
}

/** `createJob`: creates the Job, or adopts ours on 409 (same fingerprint); `JobConflictError` otherwise. */
export function createJobEffect(options: CreateJobEffectOptions) {
  const { jobs, observer, beforeEffect } = options;
  return fromPromise<CreateJobOutput, CreateJobInput>(async ({ input, signal }) => {
    await beforeEffect(input.taskId);
    const created = await jobs.createJob(input, signal);
    observer.created(input.jobName);
    return created;
  });
}
