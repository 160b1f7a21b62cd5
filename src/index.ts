/**
 * k8s-jobs: run your application's work as Kubernetes Jobs — durably queued, capped in
 * concurrency, watched to an outcome, logs kept, cleaned up.
 *
 * @packageDocumentation
 */
export { createRunner, type Runner, type RunnerEvent, type RunnerEventKind, type ShutdownMode } from './runner/runner.js';
export type { RunnerOptions } from './runner/options.js';
export type { Logger, LogMethod } from './runner/logger.js';
export { redactedValue, type InspectedActorRef } from './runner/inspection-redaction.js';
export type { MetricsOptions } from './runner/metrics.js';
export type { StuckPolicy } from './machines/task/contract.js';
export type { TaskFailure, TaskOutcome, TaskRecord, TaskState, Transition } from './types.js';
export { taskStates } from './types.js';
export type { TaskInput, TaskSpec } from './validation/task-spec.js';
export type { LogSnapshot, OpenTask, SaveExtras, TaskStore } from './store/contract.js';
export type { OpenEntry } from './store/layout.js';
export {
  DuplicateTaskError,
  JobConflictError,
  K8sJobsError,
  KubernetesApiError,
  QueueFullError,
  RunnerClosedError,
  StoreError,
  StoreLockedError,
  TaskNotFoundError,
  ValidationError,
  type K8sJobsErrorCode,
  type ValidationIssue,
} from './errors.js';
