import type { KubeObject, OwnerReference } from './types.js';

/** The finalizer that keeps a Job's pod around until the Job controller has counted it. */
export const jobTrackingFinalizer = 'batch.kubernetes.io/job-tracking';

/** The completion index annotation (and label) of an Indexed Job's pods. */
export const completionIndexKey = 'batch.kubernetes.io/job-completion-index';

/** `metav1.GetControllerOf`. */
export function controllerOf(obj: KubeObject): OwnerReference | undefined {
  return obj.metadata.ownerReferences?.find((ref) => ref.controller === true);
}

/** The controller reference when it names a batch/v1 Job. */
export function jobControllerOf(pod: KubeObject): OwnerReference | undefined {
  const ref = controllerOf(pod);
  return ref && ref.kind === 'Job' && ref.apiVersion === 'batch/v1' ? ref : undefined;
}

export function hasTrackingFinalizer(pod: KubeObject): boolean {
  return pod.metadata.finalizers?.includes(jobTrackingFinalizer) ?? false;
}

function phase(pod: KubeObject): string {
  return String(pod.status?.phase ?? '');
}

/** `controller.IsPodActive`: not finished and not being deleted. */
export function isPodActive(pod: KubeObject): boolean {
  return phase(pod) !== 'Succeeded' && phase(pod) !== 'Failed' && !pod.metadata.deletionTimestamp;
}

/** `controller.IsPodTerminating`: being deleted while its containers may still run. */
export function isPodTerminating(pod: KubeObject): boolean {
  return !!pod.metadata.deletionTimestamp && phase(pod) !== 'Succeeded' && phase(pod) !== 'Failed';
}

function readyCondition(pod: KubeObject): Record<string, unknown> | undefined {
  const conditions: unknown = pod.status?.conditions;
  if (!Array.isArray(conditions)) return undefined;
  return conditions.find((c: Record<string, unknown>) => c['type'] === 'Ready') as Record<string, unknown> | undefined;
}

/** `podutil.IsPodReady`. */
export function isPodReady(pod: KubeObject): boolean {
  return readyCondition(pod)?.['status'] === 'True';
}

/**
 * `isPodFailed`: phase Failed, or — unless only failed pods are replaced — deleted before it
 * succeeded (an orphaned or evicted pod may never reach phase Failed).
 */
export function isPodFailed(pod: KubeObject, onlyReplaceFailed: boolean): boolean {
  if (phase(pod) === 'Failed') return true;
  if (onlyReplaceFailed) return false;
  return !!pod.metadata.deletionTimestamp && phase(pod) !== 'Succeeded';
}

type ContainerStatus = { restartCount?: number; state?: { terminated?: { finishedAt?: string } } };

function containerStatuses(pod: KubeObject, field: 'containerStatuses' | 'initContainerStatuses'): ContainerStatus[] {
  const list: unknown = pod.status?.[field];
  return Array.isArray(list) ? (list as ContainerStatus[]) : [];
}

/** Sum of container restarts of a Pending or Running pod (what counts toward backoffLimit with OnFailure). */
export function restartCount(pod: KubeObject): number {
  if (phase(pod) !== 'Running' && phase(pod) !== 'Pending') return 0;
  return [...containerStatuses(pod, 'initContainerStatuses'), ...containerStatuses(pod, 'containerStatuses')].reduce(
    (sum, s) => sum + (s.restartCount ?? 0),
    0,
  );
}

/**
 * `getFinishedTime` (backoff_utils.go): latest container finish, else the Ready=False
 * transition, else deletionTimestamp minus grace, else creation.
 */
export function finishedTime(pod: KubeObject): number {
  const statuses = containerStatuses(pod, 'containerStatuses');
  if (statuses.length > 0 && statuses.every((s) => s.state?.terminated?.finishedAt)) {
    return Math.max(...statuses.map((s) => Date.parse(s.state?.terminated?.finishedAt ?? '')));
  }
  const ready = readyCondition(pod);
  if (ready?.['status'] === 'False' && typeof ready['lastTransitionTime'] === 'string')
    return Date.parse(ready['lastTransitionTime']);
  if (pod.metadata.deletionTimestamp)
    return Date.parse(pod.metadata.deletionTimestamp) - (pod.metadata.deletionGracePeriodSeconds ?? 0) * 1000;
  return Date.parse(pod.metadata.creationTimestamp);
}

/** The completion index of an Indexed Job's pod, or undefined. */
export function completionIndexOf(pod: KubeObject): number | undefined {
  const raw = pod.metadata.annotations?.[completionIndexKey];
  if (raw === undefined || !/^(0|[1-9][0-9]*)$/.test(raw)) return undefined;
  return Number(raw);
}

function phaseRank(pod: KubeObject): number {
  if (phase(pod) === 'Pending') return 0;
  if (phase(pod) === 'Unknown') return 1;
  if (phase(pod) === 'Running') return 2;
  return 3;
}

/**
 * `controller.ActivePods` order: the pods to delete first come first — unscheduled before
 * scheduled, Pending before Running, not ready before ready, more restarts before fewer,
 * newer before older.
 */
export function byDeletionPreference(a: KubeObject, b: KubeObject): number {
  const scheduled = Number(!!a.spec?.nodeName) - Number(!!b.spec?.nodeName);
  if (scheduled !== 0) return scheduled;
  const byPhase = phaseRank(a) - phaseRank(b);
  if (byPhase !== 0) return byPhase;
  const ready = Number(isPodReady(a)) - Number(isPodReady(b));
  if (ready !== 0) return ready;
  const restarts = restartCount(b) - restartCount(a);
  if (restarts !== 0) return restarts;
  return Date.parse(b.metadata.creationTimestamp) - Date.parse(a.metadata.creationTimestamp);
}
