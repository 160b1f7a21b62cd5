import type { TaskFailure, TaskRetry } from '../../types.js';
import { parseQuantity } from '../../validation/quantity.js';
import { effectiveRetryPolicy, type RetryPolicy } from '../../validation/retry-policy.js';
import type { ClusterObservation, PodView, TaskContext } from './contract.js';
import { isPermanentPullError } from './stuck.js';

/*
 * Retries by reason, decided from what the cluster said. Pure: the task machine applies them.
 * A quota refusal is back-pressure (the task waits for room, unbounded, never failed for it unless
 * it can never fit); a disruption, a pull error or an out-of-memory kill is retried within the
 * task's `retry` policy.
 */

/** Retries kept on the record (the counts that bound them are kept apart, uncapped). */
const keptRetries = 20;
const defaultBackoff = { initialMs: 1000, maxMs: 60_000 };

/** The task's retry policy: its own over the runner's default. */
export function policyOf(ctx: TaskContext): RetryPolicy {
  return effectiveRetryPolicy(ctx.spec.retry, ctx.config.retry);
}

const countOf = (ctx: TaskContext, reason: TaskRetry['reason']): number => ctx.retryCounts?.[reason] ?? 0;

/** The back-off before the n-th requeue for this reason. */
export function backoffMs(ctx: TaskContext, reason: TaskRetry['reason']): number {
  const { initialMs, maxMs } = ctx.config.requeueBackoff ?? defaultBackoff;
  const n = countOf(ctx, reason) + 1;
  return Math.min(maxMs, initialMs * 2 ** Math.min(n - 1, 30));
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** The context after a retry (or quota wait) was recorded: the list capped, the count raised. */
export function withRetry(ctx: TaskContext, retry: TaskRetry): Pick<TaskContext, 'retries' | 'retryCounts'> {
  return {
    retries: [...(ctx.retries ?? []), retry].slice(-keptRetries),
    retryCounts: { ...ctx.retryCounts, [retry.reason]: countOf(ctx, retry.reason) + 1 },
  };
}

/** A retry of the current attempt at `at` (epoch ms) that makes a new Job. */
export function newJobRetry(
  ctx: TaskContext,
  reason: TaskRetry['reason'],
  message: string,
  at: number,
  extra: Partial<TaskRetry> = {},
): TaskRetry & { backoffMs: number } {
  return {
    reason,
    attempt: ctx.attempt ?? 1,
    jobName: ctx.jobName,
    message,
    at: iso(at),
    action: 'newJob',
    ...extra,
    backoffMs: backoffMs(ctx, reason),
  };
}

/**
 * Whether a failure is retried with a new Job, and how: a pull error that may pass (`imagePull`),
 * an out-of-memory kill (`oomKilled`: with more memory, while below the cap), a pod lost to a
 * disruption that the Job itself did not absorb (a cluster without `podFailurePolicy`).
 */
export function retryForFailure(
  ctx: TaskContext,
  failure: TaskFailure | undefined,
  pods: readonly PodView[],
  at: number,
): (TaskRetry & { backoffMs: number }) | undefined {
  if (!failure) return undefined;
  const policy = policyOf(ctx);
  const where = {
    ...(failure.podName ? { podName: failure.podName } : {}),
    ...(failure.nodeName ? { nodeName: failure.nodeName } : {}),
  };
  if (failure.reason === 'ErrImagePull' || failure.reason === 'ImagePullBackOff') {
    // "Not found" or "denied" is not transient: another Job would only fail the same way.
    if (isPermanentPullError(failure.message, failure.events ?? [])) return undefined;
    if (countOf(ctx, 'imagePull') >= policy.imagePull) return undefined;
    return newJobRetry(ctx, 'imagePull', failure.message, at, where);
  }
  if (failure.oomKilled) {
    if (countOf(ctx, 'oomKilled') >= policy.oomKilled.attempts) return undefined;
    const memory = nextMemory(ctx, policy);
    if (memory === undefined) return undefined;
    return newJobRetry(ctx, 'oomKilled', failure.message, at, { ...where, memory });
  }
  const disrupted = pods.find((p) => p.disruption && (!failure.podName || p.name === failure.podName));
  if (disrupted?.disruption && countOf(ctx, 'disruption') < policy.disruptions) {
    const { reason, message } = disrupted.disruption;
    return newJobRetry(ctx, 'disruption', `${reason}: ${message}`, at, {
      podName: disrupted.name,
      ...(disrupted.nodeName ? { nodeName: disrupted.nodeName } : {}),
    });
  }
  return undefined;
}

/**
 * The memory of the next attempt: the current one (the last raise, else the spec's limit, else
 * its request) times the factor, at most `maxMemory`; undefined when the spec sets no memory (there
 * is nothing to raise) or the cap is already reached.
 */
export function nextMemory(ctx: TaskContext, policy: RetryPolicy): string | undefined {
  const current = ctx.memory ?? ctx.spec.resources?.limits?.['memory'] ?? ctx.spec.resources?.requests?.['memory'];
  const bytes = current === undefined ? undefined : parseQuantity(current);
  if (bytes === undefined || bytes <= 0) return undefined;
  const cap =
    policy.oomKilled.maxMemory === undefined ? Infinity : (parseQuantity(policy.oomKilled.maxMemory) ?? Infinity);
  if (bytes >= cap) return undefined;
  const next = Math.min(cap, bytes * policy.oomKilled.memoryFactor);
  return next === cap && policy.oomKilled.maxMemory !== undefined
    ? policy.oomKilled.maxMemory
    : `${Math.ceil(next / 2 ** 20)}Mi`;
}

/** Pods of the current Job newly seen disrupted, as the retries they are (the Job replaced them). */
export function newDisruptions(ctx: TaskContext, observation: ClusterObservation): TaskRetry[] {
  const counted = new Set(ctx.disruptedPods ?? []);
  return observation.pods
    .filter((p) => p.disruption && !counted.has(p.name))
    .map((p) => ({
      reason: 'disruption' as const,
      attempt: ctx.attempt ?? 1,
      jobName: ctx.jobName,
      message: `${p.disruption?.reason}: ${p.disruption?.message}`,
      at: iso(observation.at),
      action: 'podReplaced' as const,
      podName: p.name,
      ...(p.nodeName ? { nodeName: p.nodeName } : {}),
    }));
}
