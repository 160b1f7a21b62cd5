/*
 * The engine's port to the Jobs of one namespace, in our own words (views of `contract.ts`, plain
 * JSON), never client-node's models. One adapter implements it over client-node (`src/kube`).
 */
import type { CreateJobInput, CreateJobOutput, JobView, PodView } from '../machines/task/contract.js';
import type { FollowEnd, FollowJobLogOptions, JobLogReadOptions, PodLog } from './job-logs.js';

/** A Job of ours (it carries `app.kubernetes.io/managed-by=k8s-jobs`) as a LIST shows it. */
export interface OwnedJob {
  name: string;
  uid: string;
  /** The task id its `k8s-jobs.io/task-id` annotation names, if any. */
  taskId?: string;
  /** Its `k8s-jobs.io/fingerprint` annotation, if any. */
  fingerprint?: string;
  /**
   * The task as far as the Job tells (the inverse of its manifest), not validated: what
   * `orphans: 'adopt'` parses into a task. A `podTemplate` patch cannot be rebuilt.
   */
  taskInput: Record<string, unknown>;
}

/**
 * Create, read, delete and list the Jobs of one namespace, and read their logs. Every call takes
 * the caller's AbortSignal; the adapter rate-limits and retries transient failures, and throws
 * `KubernetesApiError` for the rest.
 */
export interface JobsPort {
  /** The resolved namespace (never `''`). */
  readonly namespace: string;
  /**
   * Creates the task's Job. On `409 AlreadyExists` with the same fingerprint the Job is ours (a
   * create that reached the API before a crash or a timeout) and is adopted; a Job of that name
   * made from anything else throws `JobConflictError`.
   */
  createJob(input: CreateJobInput, signal?: AbortSignal): Promise<CreateJobOutput>;
  /** The Job, or undefined when there is none of that name. */
  getJob(name: string, signal?: AbortSignal): Promise<JobView | undefined>;
  /**
   * Deletes the Job. `'absent'` when it was already gone, or when `uid` is given and the Job of
   * that name is another one: either way our Job no longer exists.
   */
  deleteJob(name: string, options?: { uid?: string; signal?: AbortSignal }): Promise<'deleted' | 'absent'>;
  /** Every Job of ours in the namespace. */
  listJobs(signal?: AbortSignal): Promise<OwnedJob[]>;
  /** The Job's pods, read now (not from the shared watch), oldest first. */
  listJobPods(jobName: string, signal?: AbortSignal): Promise<PodView[]>;
  /**
   * The capped log of the Job's newest pod: empty while its container has not started, undefined
   * when the Job has no pod left.
   */
  readJobLog(jobName: string, options?: JobLogReadOptions): Promise<PodLog | undefined>;
  /**
   * Follows the live log of the Job's newest pod through drops, restarts and new pods. Resolves
   * once `finished()` holds (or `changes` ended) and the last stream ended, or when `signal`
   * aborts, telling whether that stream was read to its end; rejects with `KubernetesApiError`
   * when a request fails for good.
   */
  followJobLog(options: FollowJobLogOptions): Promise<FollowEnd>;
}
