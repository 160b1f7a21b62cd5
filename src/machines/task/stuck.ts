import type { TaskFailure, TaskFailureReason } from '../../types.js';
import type { ContainerView, PodView, StuckPolicy } from './contract.js';
import { findTermination, terminationDetails } from './failures.js';

/** A stuck pod's deadline and the failure it becomes when it passes. */
export interface StuckDeadline {
  at: number;
  failure: TaskFailure;
}

/**
 * Pull errors that no amount of waiting fixes: the image does not exist or we may not pull it.
 * Covers containerd/CRI-O/Docker wording and gRPC codes (`code = NotFound`).
 */
const permanentPullError =
  /not ?found|manifest unknown|unauthorized|unauthenticated|access denied|permission ?denied|repository does not exist|requested access to the resource is denied|insufficient_scope/i;

/**
 * The earliest deadline of a pod Kubernetes will never fail by itself (it stays Pending, or
 * restarts forever), measured from the pod's creationTimestamp so that a restarted runner
 * computes the same deadline. Immediate reasons get the pod's creation time (already passed).
 * `pendingUntil` is the Job's pending budget: an unschedulable pod without its own grace fails
 * exactly then, with its own reason.
 */
export function stuckDeadline(
  pods: readonly PodView[],
  events: readonly string[],
  policy: StuckPolicy,
  pendingUntil: number | undefined,
): StuckDeadline | undefined {
  let earliest = podSecurityRefusal(pods, events, policy, pendingUntil);
  for (const pod of pods) {
    if (pod.deletionTimestamp || (pod.phase !== 'Pending' && pod.phase !== 'Running')) continue;
    for (const candidate of podDeadlines(pod, events, policy, pendingUntil)) {
      if (!earliest || candidate.at < earliest.at) earliest = candidate;
    }
  }
  return earliest;
}

/** The Job controller's `FailedCreate` event for a pod the namespace's Pod Security Admission refused. */
const podSecurityEvent = /^FailedCreate: .*\bviolates PodSecurity\b/;

/**
 * A Job whose pods Pod Security Admission refuses: none of its containers ever started (the
 * pending budget still runs), no pod is alive, and the Job's recent events hold a `FailedCreate`
 * "violates PodSecurity". The Job controller only retries (with back-off) what the namespace's
 * policy will refuse again, so the deadline is the Job's creation: passed at once. Once a
 * container ran, an old refusal says nothing about the pods since, so it is not looked at.
 */
function podSecurityRefusal(
  pods: readonly PodView[],
  events: readonly string[],
  policy: StuckPolicy,
  pendingUntil: number | undefined,
): StuckDeadline | undefined {
  if (pendingUntil === undefined) return undefined;
  const alive = pods.some((p) => !p.deletionTimestamp && (p.phase === 'Pending' || p.phase === 'Running'));
  const event = alive ? undefined : events.findLast((e) => podSecurityEvent.test(e));
  if (event === undefined) return undefined;
  const refusal = event.slice(event.indexOf('violates PodSecurity'));
  return {
    at: pendingUntil - policy.pendingBudgetMs,
    failure: {
      reason: 'PodSecurityViolation',
      message: `The namespace's Pod Security Admission refuses the Job's pods: ${refusal}`,
      events: [...events],
    },
  };
}

function podDeadlines(
  pod: PodView,
  events: readonly string[],
  policy: StuckPolicy,
  pendingUntil: number | undefined,
): StuckDeadline[] {
  const created = Date.parse(pod.createdAt);
  const withEvents = (failure: TaskFailure): TaskFailure => ({ ...failure, events: [...events] });
  const found: StuckDeadline[] = [];
  if (pod.unschedulable) {
    const at =
      policy.unschedulableGraceMs !== undefined
        ? created + policy.unschedulableGraceMs
        : (pendingUntil ?? created + policy.pendingBudgetMs);
    found.push({
      at,
      failure: withEvents({ reason: 'Unschedulable', message: pod.unschedulable.message || pod.unschedulable.reason }),
    });
  }
  for (const c of pod.containers) {
    const stuck = stuckWaiting(c, events, policy);
    if (stuck) found.push({ at: created + stuck.graceMs, failure: withEvents(containerFailure(pod, c, stuck.reason)) });
  }
  return found;
}

/**
 * A container's stuck waiting reason and how long it may wait with it; `undefined` when it is not waiting with a stuck
 * one.
 */
function stuckWaiting(
  c: ContainerView,
  events: readonly string[],
  policy: StuckPolicy,
): { reason: TaskFailureReason; graceMs: number } | undefined {
  const reason = c.waiting?.reason;
  switch (reason) {
    case 'ErrImagePull':
    case 'ImagePullBackOff':
      // Before Kubernetes 1.32 ImagePullBackOff's message omits the cause; the kubelet's events keep it.
      return { reason, graceMs: isPermanentPullError(c.waiting?.message, events) ? 0 : policy.imagePullGraceMs };
    case 'CreateContainerConfigError':
      return { reason, graceMs: policy.createContainerConfigGraceMs };
    case 'CrashLoopBackOff':
      return { reason, graceMs: policy.crashLoopBackOffGraceMs };
    case 'InvalidImageName':
    case 'ErrImageNeverPull':
      // These never resolve on their own: fail at once.
      return { reason, graceMs: 0 };
    default:
      return undefined;
  }
}

/**
 * A registry's rate limit: it passes. Docker Hub's says "toomanyrequests: … unauthenticated pull
 * rate limit", which must not read as an authentication failure.
 */
const rateLimited = /toomanyrequests|too many requests|rate limit/i;

const saysPermanent = (text: string): boolean => permanentPullError.test(text) && !rateLimited.test(text);

/** Whether a pull error says the image does not exist or access is denied (a rate limit is neither). */
export function isPermanentPullError(message: string | undefined, events: readonly string[]): boolean {
  if (message && saysPermanent(message)) return true;
  return events.some((e) => /^Failed: .*pull/i.test(e) && saysPermanent(e));
}

function containerFailure(pod: PodView, c: ContainerView, reason: TaskFailureReason): TaskFailure {
  const message = c.waiting?.message || reason;
  if (reason !== 'CrashLoopBackOff') return { reason, message };
  // A crash loop is about the crashes: keep the last one's exit code and OOM flag.
  const { detail, ...details } = terminationDetails(findTermination([{ ...pod, containers: [c] }]));
  return { reason, message: detail ? `${message}; last ${detail}` : message, ...details };
}
