import type { CoreV1Event, V1Job, V1Pod } from '@kubernetes/client-node';
import { JobConflictError, KubernetesApiError } from '../errors.js';
import type { CreateJobInput, CreateJobOutput, PodView } from '../machines/task/contract.js';
import { buildJobManifest } from './job-manifest.js';
import { kubeCall, withSignal, type KubeCallPolicy } from './kube-call.js';
import type { KubeClient } from './kube-client.js';
import { fingerprintAnnotation, managedBySelector } from './labels.js';
import { LogReader, type LogReadOptions, type PodLog } from './logs.js';

/** How a finished Job is deleted. `Background` removes the Job at once and its pods after. */
export type PropagationPolicy = 'Background' | 'Foreground';

export interface JobsGatewayOptions extends KubeCallPolicy {
  client: KubeClient;
  /** @default 'Background' */
  propagationPolicy?: PropagationPolicy;
  /** Default cap of a log read (head + marker + tail). @default 1048576 */
  logMaxBytes?: number;
}

/** A consistent LIST: the items and the resourceVersion to watch from. */
export interface ListResult<T> {
  items: T[];
  resourceVersion: string;
}

/**
 * The narrow port everything else uses to reach Kubernetes: create (adopting our own Job on
 * 409), get, delete (404 = done), list our Jobs and Pods, list Events. Every call takes the
 * caller's AbortSignal and goes through the rate limiter and the retry policy.
 */
export interface JobsGateway {
  readonly namespace: string;
  readonly policy: KubeCallPolicy;
  /**
   * Creates the task's Job. On `409 AlreadyExists` it reads the existing Job: the same
   * fingerprint annotation means it is ours (a create that reached the API before a crash or a
   * timeout) and is adopted; anything else throws `JobConflictError`.
   */
  createJob(input: CreateJobInput, signal?: AbortSignal): Promise<CreateJobOutput>;
  /** The Job, or undefined on 404. */
  getJob(name: string, signal?: AbortSignal): Promise<V1Job | undefined>;
  /**
   * Deletes the Job with the configured propagation policy. `'absent'` when it was already gone
   * (404), or when `uid` is given and the Job with that name is another one (the precondition's
   * 409): either way our Job no longer exists.
   */
  deleteJob(name: string, options?: { uid?: string; signal?: AbortSignal }): Promise<'deleted' | 'absent'>;
  /** Every Job carrying `app.kubernetes.io/managed-by=k8s-jobs`. */
  listJobs(signal?: AbortSignal): Promise<ListResult<V1Job>>;
  /** Every Pod carrying `app.kubernetes.io/managed-by=k8s-jobs` (or matching `labelSelector`). */
  listPods(signal?: AbortSignal, labelSelector?: string): Promise<ListResult<V1Pod>>;
  /** Events about one object (`involvedObject.name`). */
  listEvents(involvedObjectName: string, signal?: AbortSignal): Promise<CoreV1Event[]>;
  /**
   * The capped log of the Job's newest pod (`pods`: what the caller knows, else they are listed).
   * Empty while the container has not started; undefined when the Job has no pod left.
   */
  readJobLog(jobName: string, options?: LogReadOptions & { pods?: readonly PodView[] }): Promise<PodLog | undefined>;
  /** A container's capped log; empty before it started (400), undefined when the pod is gone (404). */
  readPodLog(pod: string, container: string, options?: LogReadOptions): Promise<PodLog | undefined>;
}

/** Builds the gateway over one namespace's clients. */
export function createJobsGateway(options: JobsGatewayOptions): JobsGateway {
  const { client } = options;
  const { namespace, batch, core } = client;
  const propagationPolicy = options.propagationPolicy ?? 'Background';
  const policy: KubeCallPolicy = options;

  const listPods = async (signal?: AbortSignal, labelSelector = managedBySelector): Promise<ListResult<V1Pod>> => {
    const list = await kubeCall(policy, 'list', 'pods', (s) => core.listNamespacedPod({ namespace, labelSelector }, withSignal(s)), signal);
    return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? '' };
  };
  const logs = new LogReader({ client, policy, listPods, maxBytes: options.logMaxBytes });

  const getJob = async (name: string, signal?: AbortSignal): Promise<V1Job | undefined> => {
    try {
      return await kubeCall(policy, 'get', `jobs/${name}`, (s) => batch.readNamespacedJob({ name, namespace }, withSignal(s)), signal);
    } catch (err) {
      if (err instanceof KubernetesApiError && err.statusCode === 404) return undefined;
      throw err;
    }
  };

  return {
    namespace,
    policy,
    getJob,

    async createJob(input, signal) {
      const body = buildJobManifest({ ...input, namespace });
      let conflict: KubernetesApiError | undefined;
      // A 409 followed by a 404 means the Job was deleted in between: create again (bounded).
      for (let round = 0; round < 3; round++) {
        try {
          const created = await kubeCall(policy, 'create', `jobs/${input.jobName}`, (s) => batch.createNamespacedJob({ namespace, body }, withSignal(s)), signal);
          return { uid: created.metadata?.uid ?? '', adopted: false };
        } catch (err) {
          if (!(err instanceof KubernetesApiError) || err.statusCode !== 409) throw err;
          conflict = err;
        }
        const existing = await getJob(input.jobName, signal);
        if (!existing) continue;
        const found = existing.metadata?.annotations?.[fingerprintAnnotation];
        // Ours even while being deleted: the shared watch then reports it gone, and the task
        // fails as JobVanished rather than silently running a second Job.
        if (found === input.fingerprint) return { uid: existing.metadata?.uid ?? '', adopted: true };
        throw new JobConflictError(namespace, input.jobName, input.taskId, input.fingerprint, found);
      }
      throw conflict;
    },

    async deleteJob(name, { uid, signal } = {}) {
      try {
        await kubeCall(
          policy,
          'delete',
          `jobs/${name}`,
          (s) => batch.deleteNamespacedJob({ name, namespace, propagationPolicy, body: uid ? { preconditions: { uid } } : undefined }, withSignal(s)),
          signal,
        );
        return 'deleted';
      } catch (err) {
        if (err instanceof KubernetesApiError && (err.statusCode === 404 || (uid !== undefined && err.statusCode === 409))) return 'absent';
        throw err;
      }
    },

    async listJobs(signal) {
      const list = await kubeCall(policy, 'list', 'jobs', (s) => batch.listNamespacedJob({ namespace, labelSelector: managedBySelector }, withSignal(s)), signal);
      return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? '' };
    },

    listPods,
    readJobLog: (jobName, readOptions) => logs.readJobLog(jobName, readOptions),
    readPodLog: (pod, container, readOptions) => logs.readPodLog(pod, container, readOptions),

    async listEvents(involvedObjectName, signal) {
      const list = await kubeCall(
        policy,
        'list',
        'events',
        (s) => core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${involvedObjectName}` }, withSignal(s)),
        signal,
      );
      return list.items;
    },
  };
}
