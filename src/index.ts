/**
 * k8s-jobs: run your application's work as Kubernetes Jobs — durably queued, capped in
 * concurrency, watched to an outcome, logs kept, cleaned up.
 *
 * @packageDocumentation
 */
export { createRunner } from './runner/create-runner.js';
export type {
  AddTaskOptions,
  AddTaskResult,
  AddTasksOptions,
  Runner,
  ShutdownMode,
  ShutdownOptions,
  WaitForOptions,
} from './runner/runner-api.js';
export { shutdownOnSignals, type ShutdownOnSignalsOptions } from './runner/shutdown-on-signals.js';
export {
  bufferLogLines,
  droppedLinesMarker,
  type LogLineBuffer,
  type LogLineBufferOptions,
} from './logs/line-buffer.js';
export type { RunnerEvent, RunnerEventKind } from './runner/runner-events.js';
export type { HealthStatus, LeaderHealth, RunnerHealth } from './runner/health.js';
export { defaultPreflightTask, type PreflightCheck, type PreflightReport } from './runner/preflight.js';
export type { RunnerOptions } from './runner/options.js';
export type { LeaderElectionOptions } from './leader/options.js';
export type { Logger, LogMethod } from './runner/logger.js';
export { redactedValue, type InspectedActorRef } from './runner/inspection-redaction.js';
export type { MetricsOptions } from './runner/metrics.js';
export type { StuckPolicy } from './machines/task/contract.js';
export type {
  TaskFailure,
  TaskListQuery,
  TaskLogsLost,
  TaskOutcome,
  TaskPage,
  TaskRecord,
  TaskState,
  Transition,
} from './types.js';
export { defaultTaskPageSize, maxTaskPageSize, taskStates } from './types.js';
export { taskFailureReasons, type TaskFailureReason } from './failure-reasons.js';
export type { TaskInput, TaskSpec } from './validation/task-spec.js';
export type { PodSecurityLevel } from './validation/pod-security.js';
export {
  DuplicateTaskError,
  JobConflictError,
  K8sJobsError,
  KubernetesApiError,
  PreflightError,
  QueueFullError,
  RunnerClosedError,
  StoreError,
  StoreLockedError,
  TaskNotFoundError,
  ValidationError,
  WaitTimeoutError,
  type K8sJobsErrorCode,
  type PreflightProblem,
  type ValidationIssue,
} from './errors.js';
