import type { V1ContainerStatus, V1Job, V1Pod } from '@kubernetes/client-node';
import { fingerprintAnnotation, jobNameLabels, taskIdAnnotation } from '../jobs/labels.js';
import type { ConditionView, ContainerView, JobView, PodView } from '../machines/task/contract.js';
import type { OwnedJob } from '../ports/jobs-port.js';
import { taskInputOfJob } from './job-manifest.js';

/*
 * Cluster objects as the plain JSON views the machine reads. Objects reach us in two shapes:
 * client-node's deserialized models (LIST/GET: timestamps are `Date`) and raw watch JSON
 * (timestamps are RFC 3339 strings), so every time goes through `iso`.
 */

function iso(value: Date | string | undefined | null): string | undefined {
  if (value === undefined || value === null) return undefined;
  return typeof value === 'string' ? value : value.toISOString();
}

function defined<T extends object>(value: T): T {
  for (const key of Object.keys(value) as (keyof T)[]) if (value[key] === undefined) delete value[key];
  return value;
}

/** The Job's name as its pod carries it, if the pod belongs to a Job. */
export function jobNameOfPod(pod: V1Pod): string | undefined {
  const labels = pod.metadata?.labels ?? {};
  for (const key of jobNameLabels) if (labels[key]) return labels[key];
  return undefined;
}

/** A batch/v1 Job as the machine sees it. */
export function toJobView(job: V1Job): JobView {
  const status = job.status ?? {};
  const conditions: ConditionView[] = (status.conditions ?? []).map((c) =>
    defined({
      type: c.type,
      status: c.status as ConditionView['status'],
      reason: c.reason,
      message: c.message,
      lastTransitionTime: iso(c.lastTransitionTime),
    }),
  );
  return defined({
    name: job.metadata?.name ?? '',
    uid: job.metadata?.uid ?? '',
    resourceVersion: job.metadata?.resourceVersion ?? '',
    createdAt: iso(job.metadata?.creationTimestamp),
    startTime: iso(status.startTime),
    completionTime: iso(status.completionTime),
    active: status.active ?? 0,
    ready: status.ready ?? 0,
    succeeded: status.succeeded ?? 0,
    failed: status.failed ?? 0,
    terminating: status.terminating ?? 0,
    conditions,
    deletionTimestamp: iso(job.metadata?.deletionTimestamp),
    activeDeadlineSeconds: job.spec?.activeDeadlineSeconds,
    fingerprint: job.metadata?.annotations?.[fingerprintAnnotation],
  });
}

function toContainerView(status: V1ContainerStatus): ContainerView {
  const { waiting, running, terminated } = status.state ?? {};
  const last = status.lastState?.terminated;
  return defined({
    name: status.name,
    restartCount: status.restartCount ?? 0,
    waiting: waiting ? defined({ reason: waiting.reason ?? '', message: waiting.message }) : undefined,
    running: running ? defined({ startedAt: iso(running.startedAt) }) : undefined,
    terminated: terminated
      ? defined({
          exitCode: terminated.exitCode,
          reason: terminated.reason,
          message: terminated.message,
          startedAt: iso(terminated.startedAt),
          finishedAt: iso(terminated.finishedAt),
        })
      : undefined,
    lastTerminated: last
      ? defined({
          exitCode: last.exitCode,
          reason: last.reason,
          message: last.message,
          finishedAt: iso(last.finishedAt),
        })
      : undefined,
  });
}

/** A core/v1 Pod of a Job as the machine sees it. */
export function toPodView(pod: V1Pod): PodView {
  const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  const disruption = pod.status?.conditions?.find((c) => c.type === 'DisruptionTarget' && c.status === 'True');
  return defined({
    name: pod.metadata?.name ?? '',
    uid: pod.metadata?.uid ?? '',
    phase: pod.status?.phase ?? 'Pending',
    createdAt: iso(pod.metadata?.creationTimestamp) ?? '',
    unschedulable:
      scheduled?.status === 'False'
        ? defined({
            reason: scheduled.reason ?? 'Unschedulable',
            message: scheduled.message ?? '',
            since: iso(scheduled.lastTransitionTime),
          })
        : undefined,
    containers: (pod.status?.containerStatuses ?? []).map(toContainerView),
    deletionTimestamp: iso(pod.metadata?.deletionTimestamp),
    nodeName: pod.spec?.nodeName,
    disruption: disruption
      ? { reason: disruption.reason ?? 'DisruptionTarget', message: disruption.message ?? '' }
      : undefined,
  });
}

/** A listed Job of ours: its identity, its annotations, and the task it was made from. */
export function toOwnedJob(job: V1Job): OwnedJob {
  const annotations = job.metadata?.annotations ?? {};
  const taskId = annotations[taskIdAnnotation];
  const fingerprint = annotations[fingerprintAnnotation];
  return {
    name: job.metadata?.name ?? '',
    uid: job.metadata?.uid ?? '',
    ...(taskId !== undefined ? { taskId } : {}),
    ...(fingerprint !== undefined ? { fingerprint } : {}),
    taskInput: taskInputOfJob(job),
  };
}
