import { JobConflictError, KubernetesApiError, messageOf } from '../../errors.js';
import { createRefusedReasons, isOneOf } from '../../failure-reasons.js';
import type { TaskFailure } from '../../types.js';
import type { ContainerView, PodView } from './contract.js';
import { createQuotaRefusal } from './quota.js';

/** What a failed `createJob` means for the task. */
export interface CreateFailure {
  failure: TaskFailure;
  /** Whether a Job of ours may exist after all (cleanup must then delete it). */
  jobMayExist: boolean;
}

/**
 * Turns `createJob`'s error into the task's failure. Decided by error class, never by text:
 * a conflict means the Job is someone else's (never delete it); a permanent API error means the
 * API refused the create (nothing exists); anything else may have reached the API.
 */
export function createFailure(error: unknown): CreateFailure {
  if (error instanceof JobConflictError) {
    return { failure: { reason: 'JobConflict', message: error.message }, jobMayExist: false };
  }
  const quota = createQuotaRefusal(error);
  if (quota?.neverFits) {
    const message = `The task asks for more than the namespace's ResourceQuota allows at all: ${quota.message}`;
    return { failure: { reason: 'QuotaExceeded', message }, jobMayExist: false };
  }
  if (error instanceof KubernetesApiError && !error.transient) {
    // The Status reason says why; without a known one (a TLS or DNS error...) the whole error does.
    if (isOneOf(createRefusedReasons, error.reason))
      return { failure: { reason: error.reason, message: error.apiMessage }, jobMayExist: false };
    return { failure: { reason: 'ApiError', message: error.message }, jobMayExist: false };
  }
  return { failure: apiFailure(error), jobMayExist: true };
}

/** A failure from an effect that broke for good (transient errors past their retry budget included). */
export function apiFailure(error: unknown): TaskFailure {
  return { reason: 'ApiError', message: messageOf(error) };
}

/** The failure of a task cancelled by request. */
export function cancelledFailure(): TaskFailure {
  return { reason: 'Cancelled', message: 'Task was cancelled' };
}

/** A container's termination, as far as the failure record cares. */
export interface Termination {
  pod: string;
  node?: string;
  container: string;
  exitCode: number;
  reason?: string;
  message?: string;
  startedAt?: string;
  finishedAt?: string;
}

/**
 * The most telling termination among the pods: newest pod first, a non-zero exit before a zero
 * one, the current instance before the previous one (`lastTerminated`, for restarted containers).
 */
export function findTermination(pods: readonly PodView[]): Termination | undefined {
  const newestFirst = [...pods].sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt));
  const candidates = newestFirst.flatMap((pod) => pod.containers.flatMap((c) => terminationsOf(pod, c)));
  return candidates.find((t) => t.exitCode !== 0) ?? candidates[0];
}

function terminationsOf(pod: PodView, c: ContainerView): Termination[] {
  const found: Termination[] = [];
  const instances: Array<ContainerView['terminated']> = [c.terminated, c.lastTerminated];
  for (const t of instances) {
    if (t)
      found.push({
        pod: pod.name,
        ...(pod.nodeName ? { node: pod.nodeName } : {}),
        container: c.name,
        exitCode: t.exitCode,
        ...(t.reason ? { reason: t.reason } : {}),
        ...(t.message ? { message: t.message } : {}),
        ...(t.startedAt ? { startedAt: t.startedAt } : {}),
        ...(t.finishedAt ? { finishedAt: t.finishedAt } : {}),
      });
  }
  return found;
}

/** What a termination adds to a failure record, and a sentence describing it (`detail`). */
export type TerminationDetails = Pick<
  TaskFailure,
  'exitCode' | 'oomKilled' | 'podName' | 'nodeName' | 'container' | 'terminationReason' | 'terminationMessage'
> &
  Pick<TaskFailure, 'startedAt' | 'finishedAt'> & { detail?: string };

/** The termination's fields for a failure record (so `show` explains it without the cluster), and a sentence. */
export function terminationDetails(t: Termination | undefined): TerminationDetails {
  if (!t) return {};
  const why = [t.reason, t.message].filter(Boolean).join(': ');
  return {
    exitCode: t.exitCode,
    oomKilled: t.reason === 'OOMKilled',
    podName: t.pod,
    ...(t.node ? { nodeName: t.node } : {}),
    container: t.container,
    ...(t.reason ? { terminationReason: t.reason } : {}),
    ...(t.message ? { terminationMessage: t.message } : {}),
    ...(t.startedAt ? { startedAt: t.startedAt } : {}),
    ...(t.finishedAt ? { finishedAt: t.finishedAt } : {}),
    detail: `container "${t.container}" exited with code ${t.exitCode}${why ? ` (${why})` : ''}`,
  };
}
