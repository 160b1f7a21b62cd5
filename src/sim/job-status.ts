import type { KubeObject } from './types.js';

/** A `batch/v1 JobCondition`. */
export interface JobCondition {
  type: 'Suspended' | 'Complete' | 'Failed' | 'FailureTarget' | 'SuccessCriteriaMet';
  status: 'True' | 'False' | 'Unknown';
  lastProbeTime: string;
  lastTransitionTime: string;
  reason?: string;
  message?: string;
}

/** A Job's status as the controller works on it; `toJson` gives the API's serialization. */
export interface JobStatus {
  conditions: JobCondition[];
  startTime?: string;
  completionTime?: string;
  active: number;
  succeeded: number;
  failed: number;
  terminating?: number;
  completedIndexes?: string;
  uncounted: { succeeded: string[]; failed: string[] };
  ready?: number;
}

export function newCondition(
  type: JobCondition['type'],
  status: JobCondition['status'],
  reason: string,
  message: string,
  now: string,
): JobCondition {
  const condition: JobCondition = { type, status, lastProbeTime: now, lastTransitionTime: now };
  if (reason) condition.reason = reason;
  if (message) condition.message = message;
  return condition;
}

export function findCondition(conditions: JobCondition[], type: JobCondition['type']): JobCondition | undefined {
  return conditions.find((c) => c.type === type);
}

/** True when the Job has Complete=True or Failed=True (`IsJobFinished`). */
export function isJobFinished(job: KubeObject): boolean {
  const conditions: unknown = job.status?.conditions;
  return (
    Array.isArray(conditions) &&
    conditions.some((c: JobCondition) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True')
  );
}

/** The terminal condition's transition time (what `ttlSecondsAfterFinished` counts from). */
export function jobFinishTime(job: KubeObject): number | undefined {
  const conditions: unknown = job.status?.conditions;
  if (!Array.isArray(conditions)) return undefined;
  const done = conditions.find(
    (c: JobCondition) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True',
  ) as JobCondition | undefined;
  return done ? Date.parse(done.lastTransitionTime) : undefined;
}

/**
 * `ensureJobConditionStatus`: updates the condition of that type when status, reason or message
 * differ, appends it otherwise — except that a False condition is never appended (going from
 * nothing to False means nothing). Returns whether the list changed.
 */
export function ensureCondition(
  conditions: JobCondition[],
  type: JobCondition['type'],
  status: JobCondition['status'],
  reason: string,
  message: string,
  now: string,
): boolean {
  const index = conditions.findIndex((c) => c.type === type);
  const existing = conditions[index];
  if (existing) {
    if (existing.status === status && (existing.reason ?? '') === reason && (existing.message ?? '') === message)
      return false;
    conditions[index] = newCondition(type, status, reason, message, now);
    return true;
  }
  if (status === 'False') return false;
  conditions.push(newCondition(type, status, reason, message, now));
  return true;
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.map(String) : [];
}

function count(value: unknown): number {
  return typeof value === 'number' ? value : 0;
}

/** Reads a stored Job's status (absent fields as Kubernetes' zero values). */
export function readStatus(job: KubeObject): JobStatus {
  const s = (job.status ?? {}) as Record<string, unknown>;
  const uncounted = (s['uncountedTerminatedPods'] ?? {}) as Record<string, unknown>;
  const status: JobStatus = {
    conditions: Array.isArray(s['conditions']) ? (structuredClone(s['conditions']) as JobCondition[]) : [],
    active: count(s['active']),
    succeeded: count(s['succeeded']),
    failed: count(s['failed']),
    uncounted: { succeeded: strings(uncounted['succeeded']), failed: strings(uncounted['failed']) },
  };
  if (typeof s['startTime'] === 'string') status.startTime = s['startTime'];
  if (typeof s['completionTime'] === 'string') status.completionTime = s['completionTime'];
  if (typeof s['terminating'] === 'number') status.terminating = s['terminating'];
  if (typeof s['ready'] === 'number') status.ready = s['ready'];
  if (typeof s['completedIndexes'] === 'string') status.completedIndexes = s['completedIndexes'];
  return status;
}

/** `JobStatus` as the API serializes it: Go field order, `omitempty` counters, pointer fields kept at 0. */
export function statusToJson(status: JobStatus): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (status.conditions.length > 0) out['conditions'] = status.conditions;
  if (status.startTime) out['startTime'] = status.startTime;
  if (status.completionTime) out['completionTime'] = status.completionTime;
  if (status.active) out['active'] = status.active;
  if (status.succeeded) out['succeeded'] = status.succeeded;
  if (status.failed) out['failed'] = status.failed;
  if (status.terminating !== undefined) out['terminating'] = status.terminating;
  if (status.completedIndexes) out['completedIndexes'] = status.completedIndexes;
  const uncounted: Record<string, string[]> = {};
  if (status.uncounted.succeeded.length > 0) uncounted['succeeded'] = status.uncounted.succeeded;
  if (status.uncounted.failed.length > 0) uncounted['failed'] = status.uncounted.failed;
  out['uncountedTerminatedPods'] = uncounted;
  if (status.ready !== undefined) out['ready'] = status.ready;
  return out;
}
