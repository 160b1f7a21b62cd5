/**
 * Every `TaskFailure.reason` a task can end with, grouped by who decides it. The classifier and the
 * task machine (`src/machines/task/`) only ever produce these: a reason Kubernetes passes through
 * (a Job condition's, an API refusal's) is one of the lists below, or is replaced by the group's
 * fallback (`Failed`, `ApiError`) with Kubernetes' own word kept in the message.
 */

/**
 * The reason of a Job's `Failed` (or, from Kubernetes 1.31, `FailureTarget`) condition, as the Job
 * controller sets it. `DeadlineExceeded` (the Job's `activeDeadlineSeconds`, i.e. the task's
 * `timeout`) makes the outcome `timedOut`. `Failed`: the condition had no reason, or one not listed
 * here (set by a newer Kubernetes or another controller); the message then starts with it.
 */
export const jobConditionReasons = [
  'BackoffLimitExceeded',
  'DeadlineExceeded',
  'PodFailurePolicy',
  'MaxFailedIndexesExceeded',
  'FailedIndexes',
  'Failed',
] as const;

/**
 * A pod Kubernetes never fails by itself (it stays `Pending`, or restarts forever), failed by the
 * runner under `stuck` (`RunnerOptions.stuck`): a container's waiting reason, or `Unschedulable`.
 * `PodSecurityViolation`: the Job's pods are never created, because the namespace's Pod Security
 * Admission refuses them (a `FailedCreate` event saying "violates PodSecurity"); failed at once,
 * not at the pending budget, since the Job controller would only retry the same refusal.
 */
export const stuckPodReasons = [
  'Unschedulable',
  'ErrImagePull',
  'ImagePullBackOff',
  'InvalidImageName',
  'ErrImageNeverPull',
  'CreateContainerConfigError',
  'CrashLoopBackOff',
  'PodSecurityViolation',
] as const;

/**
 * The API refused to create the Job, for good: the `reason` of the `Status` it answered, for the
 * 4xx statuses that are not retried (`metav1.StatusReason`). A refusal without one of these is
 * `ApiError`.
 */
export const createRefusedReasons = [
  'BadRequest',
  'Unauthorized',
  'Forbidden',
  'NotFound',
  'MethodNotAllowed',
  'NotAcceptable',
  'AlreadyExists',
  'Conflict',
  'Gone',
  'Expired',
  'RequestEntityTooLarge',
  'UnsupportedMediaType',
  'Invalid',
] as const;

/**
 * The runner's own: `Timeout` (its timer, `clientTimeoutGraceMs` after the Job's deadline, when
 * Kubernetes' `DeadlineExceeded` did not come first), `PendingTimeout` (no container started within
 * `stuck.pendingBudgetMs`), `Cancelled` (`cancel()`), `JobConflict` (a Job of the task's name made
 * from another spec), `JobVanished` (the Job was deleted, or replaced, before it finished),
 * `ApiError` (a Kubernetes call failed past its retries, or was refused without a known reason),
 * `QuotaExceeded` (the task asks for more than a ResourceQuota's hard limit: it can never fit),
 * `DisruptionLimitExceeded` (its pods were disrupted more often than `retry.disruptions` allows).
 */
export const runnerReasons = [
  'Timeout',
  'PendingTimeout',
  'Cancelled',
  'JobConflict',
  'JobVanished',
  'ApiError',
  'QuotaExceeded',
  'DisruptionLimitExceeded',
] as const;

/** Every reason a task's failure can have (see the groups above for what each means). */
export const taskFailureReasons = [
  ...jobConditionReasons,
  ...stuckPodReasons,
  ...createRefusedReasons,
  ...runnerReasons,
] as const;

/** One of `taskFailureReasons`: why a task failed, timed out or was cancelled. */
export type TaskFailureReason = (typeof taskFailureReasons)[number];

/** Whether `value` is one of `list` (narrows a string Kubernetes passed through). */
export function isOneOf<T extends string>(list: readonly T[], value: string | undefined): value is T {
  return value !== undefined && (list as readonly string[]).includes(value);
}

/**
 * Why a task ended as it did, in a few words: `exit code 3 (BackoffLimitExceeded)`,
 * `OOMKilled (exit code 137)`, `DeadlineExceeded`, `ImagePullBackOff`; empty for a success. What
 * the CLI and the dashboard print in a task's reason column.
 */
export function reasonOf(record: {
  failure?: { reason: string; exitCode?: number; oomKilled?: boolean } | undefined;
}): string {
  const failure = record.failure;
  if (!failure) return '';
  if (failure.oomKilled) return `OOMKilled (exit code ${failure.exitCode ?? 137})`;
  if (failure.exitCode !== undefined && failure.exitCode !== 0)
    return `exit code ${failure.exitCode} (${failure.reason})`;
  return failure.reason;
}
