/**
 * The public data shapes of k8s-jobs: what a task is, what the runner reports about it.
 * Everything here is plain JSON (no classes, no Dates): records are persisted and streamed as is.
 */
import type { TaskFailureReason } from './failure-reasons.js';
import type { TaskSpec } from './validation/task-spec.js';

export type { TaskFailureReason } from './failure-reasons.js';
export type { TaskSpec } from './validation/task-spec.js';

/** The states of a task's machine, in lifecycle order. */
export const taskStates = [
  'queued',
  'creating',
  'running',
  'retrying',
  'succeeded',
  'failed',
  'timedOut',
  'cancelled',
  'deleting',
  'deleted',
] as const;
/** One of `taskStates`: where a task is in its lifecycle. */
export type TaskState = (typeof taskStates)[number];

/** How a task ended. Kept on the record after cleanup. */
export type TaskOutcome = 'succeeded' | 'failed' | 'timedOut' | 'cancelled';

/** Why a task failed (or timed out, or was cancelled), as structured data. */
export interface TaskFailure {
  /**
   * One of `taskFailureReasons`: a Job condition's reason (`BackoffLimitExceeded`,
   * `DeadlineExceeded`…, `Failed` for one not listed), a stuck pod's (`ErrImagePull`,
   * `Unschedulable`…), the API's refusal of the create (`Forbidden`, `Invalid`…), or the runner's
   * own (`Timeout`, `PendingTimeout`, `Cancelled`, `JobConflict`, `JobVanished`, `ApiError`).
   * An out-of-memory kill or an exit code is not a reason: see `oomKilled` and `exitCode`.
   */
  reason: TaskFailureReason;
  message: string;
  /** The exit code of the most telling container termination (non-zero first, newest pod first). */
  exitCode?: number;
  /** That termination's reason was `OOMKilled` (its memory limit was exceeded). */
  oomKilled?: boolean;
  /** Recent Kubernetes events about the Job and its pods (`Reason: message`), at most 20, oldest first. */
  events?: string[];
  /** The pod of that termination. */
  podName?: string;
  /** The node it ran on. */
  nodeName?: string;
  /** The container of that termination. */
  container?: string;
  /** The termination's reason as the kubelet reports it (`Error`, `OOMKilled`, `Completed`…). */
  terminationReason?: string;
  /**
   * The container's termination message (what it wrote to its `terminationMessagePath`, or with
   * `terminationMessagePolicy: FallbackToLogsOnError` the end of its log when it failed).
   */
  terminationMessage?: string;
  /** When that container started and finished (ISO 8601). */
  startedAt?: string;
  finishedAt?: string;
  /** The last lines of the container's log. */
  lastLogLines?: string[];
}

/** What `getTask`, `listTasks`, `waitFor` and `task$` return. */
export interface TaskRecord {
  id: string;
  /** As submitted (secrets are only ever references). */
  spec: TaskSpec;
  state: TaskState;
  outcome?: TaskOutcome;
  failure?: TaskFailure;
  /** Deterministic Job name derived from the id. */
  jobName: string;
  /** The Job's uid once known. */
  jobUid?: string;
  /** ISO 8601 times. */
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  deletedAt?: string;
  /** Set when cleanup could not delete the Job (the Job may still exist). */
  cleanupError?: string;
  /**
   * Set when the task's final logs could not be read: the final read was retried with back-off,
   * the Job kept, until the runner's `logs.harvestRetryLimitMs` passed. The outcome is unaffected.
   */
  logs?: TaskLogsLost;
  /** The attempt running now or next: 1 for the task's first Job, one more for each new Job. Absent = 1. */
  attempt?: number;
  /** Why the task ran again or waited, oldest first (the last 20). */
  retries?: TaskRetry[];
  /** Set while the task is queued again because a ResourceQuota had no room for it. */
  waitingFor?: 'quota';
  /** ISO 8601: a task queued again is not started before this (its back-off). */
  waitingUntil?: string;
}

/**
 * Why a task ran again or waited: `quota` (a ResourceQuota refused its Job or pods: it waits for
 * room, never counted against anything), `disruption` (its pod was evicted, preempted or lost
 * with its node: the pod condition `DisruptionTarget`), `imagePull` (its image could not be
 * pulled for a while), `oomKilled` (it ran out of memory: the next attempt gets more).
 */
export type TaskRetryReason = 'quota' | 'disruption' | 'imagePull' | 'oomKilled';

/** One retry (or quota wait) of a task, as kept on its record. */
export interface TaskRetry {
  reason: TaskRetryReason;
  /** The attempt that was retried, and its Job. */
  attempt: number;
  jobName: string;
  /** What Kubernetes said (the quota refusal, the disruption's condition, the pull error…). */
  message: string;
  /** ISO 8601. */
  at: string;
  /**
   * `newJob`: the Job was deleted and the task queued again for a new one (attempt + 1, or the same
   * attempt after a quota wait); `podReplaced`: the Job controller replaced the pod itself, under
   * the Job's `podFailurePolicy` (`Ignore` on `DisruptionTarget`), not counted against `backoffLimit`.
   */
  action: 'newJob' | 'podReplaced';
  podName?: string;
  nodeName?: string;
  /** `oomKilled`: the memory request/limit the next attempt gets. */
  memory?: string;
}

/** The record's mark of logs lost: the final log read failed for good, and why. */
export interface TaskLogsLost {
  lost: true;
  /** Why (the last read's error, e.g. a 403 on `pods/log`), naming the Job. */
  reason: string;
}

/** Largest `limit` of a `listTasks` page. */
export const maxTaskPageSize = 1000;
/** `limit` of a `listTasks` page when none is given. */
export const defaultTaskPageSize = 100;

/**
 * What `listTasks` selects: one page, newest first (by `createdAt`, then id), read from an index
 * of the store (never a scan of every task).
 */
export interface TaskListQuery {
  /** Only tasks in this state now. */
  state?: TaskState;
  /** Only finished (`deleted`) tasks that ended with this outcome; with `state`, that must be `deleted`. */
  outcome?: TaskOutcome;
  /** Items per page: an integer from 1 to 1,000, else `ValidationError`. @default 100 */
  limit?: number;
  /**
   * The `nextCursor` of the previous page (opaque): this page starts right after it. Valid only
   * with the same `state` and `outcome`, else `ValidationError`.
   */
  cursor?: string;
}

/** One page of `listTasks`. */
export interface TaskPage {
  /** At most `limit` records, newest first. */
  items: TaskRecord[];
  /** Where the next page starts (pass it as `cursor`); absent on the last page. */
  nextCursor?: string;
}

/** One state change of one task. */
export interface Transition {
  taskId: string;
  from: TaskState | null;
  to: TaskState;
  /** The event that caused it (`START`, `CANCEL`, `CLUSTER.OBSERVED`, `ALARM`, `xstate.done.actor.createJob`...). */
  event: string;
  /** ISO 8601. */
  at: string;
  /** The outcome, on transitions into an outcome state and after. */
  outcome?: TaskOutcome;
  /**
   * A retry recorded with this step, published once: `running → running` for a pod the Job
   * replaced, `running → retrying` for a new Job, `creating → queued` for a create refused for quota.
   */
  retry?: TaskRetry;
}
