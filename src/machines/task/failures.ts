import { JobConflictError, KubernetesApiError, messageOf } from '../../errors.js';
import { createRefusedReasons, isOneOf } from '../../failure-reasons.js';
import type { TaskFailure } from '../../types.js';
import type { ContainerView, PodView } from './contract.js';

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
  container: string;
  exitCode: number;
  reason?: string;
  message?: string;
}

/**
 * The most telling termination among the pods: newest pod first, a non-zero exit before a zero
 * one, the current instance before the previous one (`lastTerminated`, for restarted containers).
 */
export function findTermination(pods: readonly PodView[]): Termination | undefined {
  const newestFirst = [...pods].sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt));
  const candidates = newestFirst.flatMap((pod) => pod.containers.flatMap((c) => terminationsOf(c)));
  return candidates.find((t) => t.exitCode !== 0) ?? candidates[0];
}

function terminationsOf(c: ContainerView): Termination[] {
  const found: Termination[] = [];
  for (const t of [c.terminated, c.lastTerminated]) {
    if (t)
      found.push({
        container: c.name,
        exitCode: t.exitCode,
        ...(t.reason ? { reason: t.reason } : {}),
        ...(t.message ? { message: t.message } : {}),
      });
  }
  return found;
}

/** The exit code, OOM flag and a sentence describing a termination, to merge into a failure. */
export function terminationDetails(t: Termination | undefined): {
  exitCode?: number;
  oomKilled?: boolean;
  detail?: string;
} {
  if (!t) return {};
  const why = [t.reason, t.message].filter(Boolean).join(': ');
  return {
    exitCode: t.exitCode,
    oomKilled: t.reason === 'OOMKilled',
    detail: `container "${t.container}" exited with code ${t.exitCode}${why ? ` (${why})` : ''}`,
  };
}
