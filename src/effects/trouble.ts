import type { ClusterObservation } from '../machines/task/contract.js';

/** Waiting reasons every pod passes through on its way to running: no trouble. */
const benignWaiting = new Set(['ContainerCreating', 'PodInitializing']);

const isFailedCondition = (c: { type: string; status: string }): boolean =>
  (c.type === 'Failed' || c.type === 'FailureTarget') && c.status === 'True';

/**
 * The Job has failed while its pods look unfinished (or unseen) in the watch cache. The Job
 * controller fails a Job only after its pods ended (or, for a deadline, while it kills them), so
 * this is mostly a Pods stream behind the Jobs stream.
 */
export function podsLag(observation: ClusterObservation): boolean {
  const failed = (observation.job?.conditions ?? []).some(isFailedCondition);
  if (!failed) return false;
  return observation.pods.length === 0 || observation.pods.some((p) => p.phase !== 'Succeeded' && p.phase !== 'Failed');
}

/**
 * The Job controller started the Job (it writes `startTime` with the first pods' `active` count)
 * but no pod exists nor ever ran: pod creation failed, e.g. refused by Pod Security Admission.
 * The Job's `FailedCreate` events say why.
 */
function startedWithoutPods({ job, pods }: ClusterObservation): boolean {
  if (!job?.startTime || job.deletionTimestamp || pods.length > 0) return false;
  return job.active + job.succeeded + job.failed + job.terminating === 0 && job.conditions.length === 0;
}

/**
 * What looks wrong in an observation (a failed condition, a stuck or failed container, an
 * unschedulable pod), as a string that changes when the trouble does; '' when all is well.
 */
export function troubleSignature(observation: ClusterObservation): string {
  const marks: string[] = [];
  for (const c of observation.job?.conditions ?? []) {
    if (isFailedCondition(c)) marks.push(`job:${c.type}:${c.reason ?? ''}`);
  }
  if (startedWithoutPods(observation)) marks.push('job:NoPods');
  for (const pod of observation.pods) {
    if (pod.unschedulable) marks.push(`${pod.name}:${pod.unschedulable.reason}`);
    if (pod.phase === 'Failed') marks.push(`${pod.name}:Failed`);
    for (const c of pod.containers) {
      if (c.waiting && !benignWaiting.has(c.waiting.reason)) marks.push(`${pod.name}/${c.name}:${c.waiting.reason}`);
      const { terminated } = c;
      if (terminated && terminated.exitCode !== 0) marks.push(`${pod.name}/${c.name}:exit ${terminated.exitCode}`);
    }
  }
  return marks.sort().join('|');
}
