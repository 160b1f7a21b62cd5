/**
 * The contract between the task machine (pure) and the world: the plain-JSON views of cluster
 * objects the effects hand in, the events the machine accepts, and the input/output of every
 * invoked actor. Effects (`src/effects`) implement the actors; the runner provides them with
 * `taskMachine.provide({ actors })`. Nothing here may import client-node or keyv at runtime.
 */
import type { TaskFailure, TaskLogsLost, TaskOutcome, TaskRetry, TaskSpec, TaskState } from '../../types.js';
import type { RetryPolicy } from '../../validation/retry-policy.js';

/** A Job condition as the API reports it. */
export interface ConditionView {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

/** What the machine needs of a batch/v1 Job. */
export interface JobView {
  name: string;
  uid: string;
  resourceVersion: string;
  /** ISO 8601 creationTimestamp; the pending budget runs from it (from `startTime` when absent). */
  createdAt?: string;
  /** ISO 8601; set by the Job controller when it starts the Job. */
  startTime?: string;
  completionTime?: string;
  active: number;
  ready: number;
  succeeded: number;
  failed: number;
  terminating: number;
  conditions: ConditionView[];
  deletionTimestamp?: string;
  activeDeadlineSeconds?: number;
  /** The fingerprint annotation the runner put on the Job. */
  fingerprint?: string;
}

/** One container's status (current and last terminated instance). */
export interface ContainerView {
  name: string;
  restartCount: number;
  waiting?: { reason: string; message?: string };
  running?: { startedAt?: string };
  terminated?: { exitCode: number; reason?: string; message?: string; startedAt?: string; finishedAt?: string };
  lastTerminated?: { exitCode: number; reason?: string; message?: string; finishedAt?: string };
}

/** What the machine needs of a core/v1 Pod of the Job. */
export interface PodView {
  name: string;
  uid: string;
  /** Pending, Running, Succeeded, Failed, Unknown. */
  phase: string;
  /** ISO 8601 creationTimestamp. */
  createdAt: string;
  /** The PodScheduled condition when it is False (Unschedulable). */
  unschedulable?: { reason: string; message: string; since?: string };
  containers: ContainerView[];
  deletionTimestamp?: string;
  /** The node it was scheduled to. */
  nodeName?: string;
  /** The pod's `DisruptionTarget` condition when True: evicted, preempted or lost with its node. */
  disruption?: { reason: string; message: string };
}

/**
 * The Job and its pods as the shared watch currently knows them. `job: null` means the Job is
 * gone from the cluster (DELETED, or absent after a relist).
 */
export interface ClusterObservation {
  job: JobView | null;
  pods: PodView[];
  /** Recent events about the Job and its pods, `Reason: message`, oldest first. */
  events?: string[];
  /** Epoch ms when this view was taken. */
  at: number;
  /**
   * Read from the API server just now (the alarm's GET + LIST), not from the watch's cache: only
   * such a view may fail a task for a passed deadline, since the watch may be blind.
   */
  fresh?: boolean;
}

/** When stuck pods fail the task (all in ms). */
export interface StuckPolicy {
  /**
   * From the Job's creation, its pods may stay Pending (not created, unscheduled, pulling,
   * creating) this long; then `PendingTimeout`. @default 600000
   */
  pendingBudgetMs: number;
  /** Pull errors that are not "does not exist / access denied" (registry throttling...). @default 300000 */
  imagePullGraceMs: number;
  /** @default 120000 */
  createContainerConfigGraceMs: number;
  /** @default 300000 */
  crashLoopBackOffGraceMs: number;
  /** `Unschedulable` fails at the pending budget unless set. */
  unschedulableGraceMs?: number;
}

/** Per-task settings from the runner options. */
export interface TaskConfig {
  stuck: StuckPolicy;
  /**
   * The client timer fires this long after `startTime + timeout`, so Kubernetes' own DeadlineExceeded is normally seen
   * first. @default 2000
   */
  clientTimeoutGraceMs: number;
  /** Leave finished Jobs in the cluster instead of deleting them. @default false */
  keepJobs: boolean;
  /**
   * How many times a running task whose Job vanished (`job: null`: deleted behind our back) is
   * re-created before it ends `failed` with reason `JobVanished`. Absent = 0 (fail at once).
   */
  jobVanishedRetries?: number;
  /** The runner's default retries by reason (the task's own `spec.retry` goes over it). Absent = the defaults. */
  retry?: RetryPolicy;
  /**
   * The back-off before a task queued again (after a quota refusal or a retry) may start: the
   * n-th wait is `min(maxMs, initialMs × 2^(n-1))`. @default { initialMs: 1000, maxMs: 60000 }
   */
  requeueBackoff?: { initialMs: number; maxMs: number };
}

/** The task machine's input: a new task, or one restored from its record. */
export interface TaskMachineInput {
  taskId: string;
  spec: TaskSpec;
  jobName: string;
  /**
   * The fingerprint the task's Job carries (an adopted Job's own); by default the spec's
   * (`fingerprintSpec`), computed when the task's actor starts: a queued task holds no hash (64
   * bytes each, 6 MB of 100,000 queued tasks).
   */
  fingerprint?: string;
  /** ISO 8601 when the task was added. */
  createdAt: string;
  config: TaskConfig;
  /** Restore into this state with this data (rebuilding from a stored record after a restart). */
  resume?: { state: TaskState; context: Partial<TaskContext> };
}

/** The machine's context: plain JSON, persisted as the task record. */
export interface TaskContext {
  taskId: string;
  spec: TaskSpec;
  jobName: string;
  fingerprint: string;
  config: TaskConfig;
  createdAt: string;
  jobUid?: string;
  /** ISO 8601, the Job's status.startTime. */
  startedAt?: string;
  finishedAt?: string;
  deletedAt?: string;
  outcome?: TaskOutcome;
  failure?: TaskFailure;
  cleanupError?: string;
  /** The final logs could not be read before the harvest's retry limit passed (the outcome stands). */
  logs?: TaskLogsLost;
  /** A create request may have reached the API: cleanup must delete. */
  jobMayExist: boolean;
  /** The Job has Complete/Failed (its pods no longer use the cluster). */
  jobFinished: boolean;
  /** This task counts against maxConcurrentJobs. */
  slotHeld: boolean;
  /** CANCEL arrived while the create was in flight. */
  cancelRequested: boolean;
  /** Times the Job was re-created after it vanished (bounded by `config.jobVanishedRetries`). Absent = 0. */
  recreates?: number;
  /** The attempt (1 = the first Job); each retry with a new Job adds one. Absent = 1. */
  attempt?: number;
  /** The retries and quota waits so far (the last 20), as on the record. */
  retries?: TaskRetry[];
  /** Retries per reason so far (bounds them: the list above is capped, these counts are not). */
  retryCounts?: Partial<Record<TaskRetry['reason'], number>>;
  /** The disrupted pods of the current Job already counted. */
  disruptedPods?: string[];
  /** A retry decided while running: the `retrying` state deletes the Job, then queues the task again. */
  pendingRetry?: TaskRetry & { backoffMs: number };
  /** Queued again for lack of quota. */
  waitingFor?: 'quota';
  /** Epoch ms: queued again, not to start before this. */
  notBefore?: number;
  /** The memory request/limit for the next Jobs (raised after `OOMKilled`); absent = the spec's. */
  memory?: string;
  /** Absolute epoch-ms deadlines; the alarm is armed at the earliest. */
  timeoutAt?: number;
  stuckAt?: { at: number; failure: TaskFailure };
  pendingUntil?: number;
  /** Last observation's events, for failure diagnostics. */
  lastEvents?: string[];
  /**
   * Epoch ms of the newest event that carried a time (the machine has no clock). Stamps
   * `finishedAt`/`deletedAt` when the causing event carries none (an actor's done/error event).
   */
  lastEventAt: number;
}

/** Events the task machine accepts from outside (supervisor, runner, effects). */
export type TaskEvent =
  | { type: 'START'; at: number }
  | { type: 'CANCEL'; at: number }
  | { type: 'CLUSTER.OBSERVED'; observation: ClusterObservation }
  | { type: 'ALARM'; at: number };

/** Events a task sends its parent (the supervisor). */
export type TaskToParentEvent =
  /** Sent exactly once, when the task stops counting against `maxConcurrentJobs`; `at` = when (epoch ms). */
  | { type: 'TASK.SLOT_RELEASED'; taskId: string; at: number }
  /** A side effect failed without changing the task's course (a log snapshot or the final log read). */
  | { type: 'TASK.EFFECT_FAILED'; taskId: string; effect: 'snapshotLogs' | 'harvestLogs'; error: unknown }
  /**
   * The task is back in `queued` (its slot released before, its Job deleted): queue it again, not to
   * start before `notBefore` (epoch ms), and send START to this same actor when it is its turn.
   */
  | { type: 'TASK.REQUEUED'; task: TaskMachineInput; notBefore: number; waitingFor?: 'quota'; at: number };

/* Invoked actors (names are the keys in `setup({ actors })`) */

/**
 * `createJob`: create the Job, or adopt ours on 409 (same fingerprint). Throws `JobConflictError` or
 * `KubernetesApiError`.
 */
export interface CreateJobInput {
  taskId: string;
  jobName: string;
  spec: TaskSpec;
  fingerprint: string;
  /** The container's memory request and limit for this attempt (after `OOMKilled`), over the spec's. */
  memory?: string;
  /** Pods lost to a disruption are replaced without counting against `backoffLimit` (`podFailurePolicy`). */
  ignoreDisruptions?: boolean;
}
export interface CreateJobOutput {
  uid: string;
  adopted: boolean;
}

/**
 * `observeJob` (callback actor): sends `CLUSTER.OBSERVED` whenever the Job or its pods change, starting with the
 * current view.
 */
export interface ObserveJobInput {
  taskId: string;
  jobName: string;
}

/**
 * `alarm` (callback actor): sends `ALARM` at `at`; re-armed by receiving `{ type: 'ARM', at }`.
 * With `jobName`, it first reads the Job and its pods fresh from the API server and sends them as
 * `CLUSTER.OBSERVED`, so a deadline is never decided on a stale watch view (a watch outage or stall).
 */
export interface AlarmInput {
  at: number | undefined;
  taskId?: string;
  /** The Job to read fresh before `ALARM`; without it the alarm only tells the time. */
  jobName?: string;
}
export type AlarmCommand = { type: 'ARM'; at: number | undefined };

/** `snapshotLogs` (callback actor): persists a capped log snapshot periodically while running. */
export interface SnapshotLogsInput {
  taskId: string;
  jobName: string;
}

/**
 * `harvestLogs`: reads the final logs and persists them (durably) before cleanup. A failed read is
 * retried with back-off (the Job is kept meanwhile) until the runner's retry limit, counted from
 * `finishedAt`, has passed; then it resolves with `lost`. It rejects only when the store fails.
 */
export interface HarvestLogsInput {
  taskId: string;
  jobName: string;
  /**
   * ISO 8601: when the task reached its outcome (kept across restarts), where the retry limit
   * starts. Absent: when the effect starts.
   */
  finishedAt?: string;
  /** The task failed or timed out: the Job's and its pods' events are read for the failure record too. */
  failed?: boolean;
}
export interface HarvestLogsOutput {
  /** The last lines, for the failure record. */
  lastLines: string[];
  /** With `failed`: the events of the Job and its pods, at most 20, oldest first. */
  events?: string[];
  /** Set when the final read failed until the retry limit passed: why (a final snapshot still says so). */
  lost?: { reason: string };
}

/** `deleteJob`: delete the Job (404 = done) and resolve once it is gone. */
export interface DeleteJobInput {
  taskId: string;
  jobName: string;
  jobUid?: string;
}
/** What `deleteJob` may resolve with; `at` (epoch ms the Job was seen gone) becomes `deletedAt`. */
export type DeleteJobOutput = { at: number } | void;
