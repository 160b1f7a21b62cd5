import { isOneOf, jobConditionReasons } from '../../failure-reasons.js';
import type { TaskFailure } from '../../types.js';
import type { ClusterObservation, ConditionView, JobView, PodView, TaskContext } from './contract.js';
import { dueVerdict } from './deadlines.js';
import { findTermination, terminationDetails } from './failures.js';
import { stuckDeadline } from './stuck.js';

/** An outcome decided by what the cluster shows. */
export interface Verdict {
  outcome: 'succeeded' | 'failed' | 'timedOut';
  failure?: TaskFailure;
  /** The Job has `Complete`/`Failed`: its pods no longer use the cluster (the slot can go). */
  jobFinished: boolean;
  /** Set when the Job under our name is not ours (any more): cleanup must not delete it. */
  jobMayExist?: false;
  /** Decided by a passed deadline (not by the Job's conditions): only a fresh view may apply it. */
  byDeadline?: true;
}

/** The context a running task takes from one observation, and the verdict if it decides one. */
export interface Classification {
  startedAt: string | undefined;
  timeoutAt: number | undefined;
  stuckAt: TaskContext['stuckAt'];
  pendingUntil: number | undefined;
  lastEvents: string[] | undefined;
  verdict?: Verdict;
}

/**
 * Reads one observation of the task's Job and pods. Pure: the same context and observation
 * always give the same answer, and every deadline is computed from cluster timestamps, so a
 * restarted runner arrives at the same deadlines.
 *
 * Only Job conditions decide an outcome (the watch ending never does); a missing Job is
 * `JobVanished`; stuck pods and the pending budget become deadlines, which decide at once if
 * they have already passed at `observation.at`.
 */
export function classify(ctx: TaskContext, observation: ClusterObservation): Classification {
  const { job, pods } = observation;
  const events = observation.events ?? ctx.lastEvents ?? [];
  const kept: Classification = {
    startedAt: ctx.startedAt,
    timeoutAt: ctx.timeoutAt,
    stuckAt: ctx.stuckAt,
    pendingUntil: ctx.pendingUntil,
    lastEvents: observation.events ?? ctx.lastEvents,
  };
  if (job === null) {
    return {
      ...kept,
      verdict: {
        outcome: 'failed',
        jobFinished: false,
        failure: { reason: 'JobVanished', message: `Job "${ctx.jobName}" was deleted before it finished`, events },
      },
    };
  }
  if (ctx.jobUid !== undefined && job.uid !== ctx.jobUid) {
    const message = `Job "${ctx.jobName}" was replaced by another Job (uid ${job.uid}, ours was ${ctx.jobUid}) before it finished`;
    return {
      ...kept,
      verdict: {
        outcome: 'failed',
        jobFinished: false,
        jobMayExist: false,
        failure: { reason: 'JobVanished', message, events },
      },
    };
  }
  const pendingUntil = pendingDeadline(job, pods, ctx.config.stuck.pendingBudgetMs);
  const next: Classification = {
    startedAt: job.startTime ?? ctx.startedAt,
    timeoutAt:
      job.startTime !== undefined && ctx.spec.timeout !== undefined
        ? Date.parse(job.startTime) + ctx.spec.timeout * 1000 + ctx.config.clientTimeoutGraceMs
        : ctx.timeoutAt,
    stuckAt: stuckDeadline(pods, events, ctx.config.stuck, pendingUntil),
    pendingUntil,
    lastEvents: kept.lastEvents,
  };
  const byConditions = conditionVerdict(job, pods, events);
  if (byConditions) return { ...next, verdict: byConditions };
  const due = dueVerdict({ ...next, spec: ctx.spec, config: ctx.config }, observation.at);
  return due ? { ...next, verdict: { ...due, jobFinished: false, byDeadline: true } } : next;
}

const isTrue = (job: JobView, type: string): ConditionView | undefined =>
  job.conditions.find((c) => c.type === type && c.status === 'True');

/**
 * `Complete`/`Failed` are terminal (the Job's pods are gone or done); `SuccessCriteriaMet`/
 * `FailureTarget` (Kubernetes 1.31+) come first and decide the outcome early, while the pods may
 * still be terminating.
 */
function conditionVerdict(job: JobView, pods: readonly PodView[], events: string[]): Verdict | undefined {
  if (isTrue(job, 'Complete')) return { outcome: 'succeeded', jobFinished: true };
  const failed = isTrue(job, 'Failed');
  if (failed) return failureVerdict(failed, pods, events, true);
  if (isTrue(job, 'SuccessCriteriaMet')) return { outcome: 'succeeded', jobFinished: false };
  const target = isTrue(job, 'FailureTarget');
  if (target) return failureVerdict(target, pods, events, false);
  return undefined;
}

function failureVerdict(
  condition: ConditionView,
  pods: readonly PodView[],
  events: string[],
  jobFinished: boolean,
): Verdict {
  const { reason, message } = conditionReason(condition);
  // The Job's deadline killed the pods: their exit codes say nothing about the task.
  if (reason === 'DeadlineExceeded') return { outcome: 'timedOut', jobFinished, failure: { reason, message, events } };
  const { detail, ...details } = terminationDetails(findTermination(pods));
  return {
    outcome: 'failed',
    jobFinished,
    failure: { reason, message: detail ? `${message}: ${detail}` : message, ...details, events },
  };
}

/**
 * The condition's reason when the Job controller is known to set it; else `Failed`, with the
 * condition's own reason (if any) kept at the start of the message.
 */
function conditionReason(c: ConditionView): Pick<TaskFailure, 'reason' | 'message'> {
  if (isOneOf(jobConditionReasons, c.reason)) return { reason: c.reason, message: c.message || c.reason };
  return { reason: 'Failed', message: [c.reason, c.message].filter(Boolean).join(': ') || 'Failed' };
}

/**
 * The pending budget runs from the Job's creation for as long as none of its containers has
 * started. The Job's own counters remember pods that ran even after those pods are gone.
 */
function pendingDeadline(job: JobView, pods: readonly PodView[], budgetMs: number): number | undefined {
  const started =
    job.succeeded + job.failed > 0 ||
    pods.some((p) => p.containers.some((c) => c.running || c.terminated || c.lastTerminated));
  const since = job.createdAt ?? job.startTime;
  return started || since === undefined ? undefined : Date.parse(since) + budgetMs;
}
