import type { CoreV1Event, V1Job, V1Pod } from '@kubernetes/client-node';
import { KubernetesApiError } from '../errors.js';
import { managedBySelector } from '../jobs/labels.js';
import { kubeCall, withSignal, type KubeCallPolicy } from './kube-call.js';
import type { KubeClient } from './kube-client.js';
import { requestJson } from './kube-request.js';

/** How a finished Job is deleted. `Background` removes the Job at once and its pods after. */
export type PropagationPolicy = 'Background' | 'Foreground';

export interface KubeApiOptions {
  client: KubeClient;
  /** Rate limit, retries and per-attempt timeout of every call. */
  policy: KubeCallPolicy;
  /** @default 'Background' */
  propagationPolicy?: PropagationPolicy;
}

/** A consistent LIST: the items and the resourceVersion to watch from. */
export interface ListResult<T> {
  items: T[];
  resourceVersion: string;
}

/**
 * The calls of one namespace: what the adapter's `JobsPort` and the shared watch are built on.
 * Every call takes the caller's AbortSignal and goes through the rate limiter and the retry
 * policy (`kubeCall`). Lists answer in client-node's models (timestamps are `Date`s); a created or
 * read Job is the API's JSON as it came (timestamps are strings, as in watch events), typed with
 * the same model: readers take either (`views.ts`).
 */
export interface KubeApi {
  readonly namespace: string;
  readonly policy: KubeCallPolicy;
  /** Creates the Job as given; a `409 AlreadyExists` is thrown like any other failure. */
  createJob(body: V1Job, signal?: AbortSignal): Promise<V1Job>;
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
}

/**
 * Builds the calls over one namespace's clients. The calls of every task (create, read and delete
 * its Job) are requests of our own (`kube-request.ts`, decision record 011); the lists go through
 * client-node's APIs.
 */
export function createKubeApi(options: KubeApiOptions): KubeApi {
  const { client, policy } = options;
  const { namespace, batch, core } = client;
  const propagationPolicy = options.propagationPolicy ?? 'Background';
  const jobsPath = `/apis/batch/v1/namespaces/${encodeURIComponent(namespace)}/jobs`;
  const jobPath = (name: string): string => `${jobsPath}/${encodeURIComponent(name)}`;

  return {
    namespace,
    policy,

    createJob(body, signal) {
      const name = body.metadata?.name ?? '';
      return kubeCall(
        policy,
        'create',
        `jobs/${name}`,
        (s) => requestJson<V1Job>(client, { method: 'POST', path: jobsPath, body }, s),
        signal,
      );
    },

    async getJob(name, signal) {
      try {
        return await kubeCall(
          policy,
          'get',
          `jobs/${name}`,
          (s) => requestJson<V1Job>(client, { method: 'GET', path: jobPath(name) }, s),
          signal,
        );
      } catch (err) {
        if (err instanceof KubernetesApiError && err.statusCode === 404) return undefined;
        throw err;
      }
    },

    async deleteJob(name, { uid, signal } = {}) {
      const body = uid ? { preconditions: { uid } } : undefined;
      const query = { propagationPolicy };
      try {
        await kubeCall(
          policy,
          'delete',
          `jobs/${name}`,
          (s) => requestJson<unknown>(client, { method: 'DELETE', path: jobPath(name), query, body }, s),
          signal,
        );
        return 'deleted';
      } catch (err) {
        // 409 with a uid: the precondition failed, the Job of that name is another one.
        const status = err instanceof KubernetesApiError ? err.statusCode : undefined;
        if (status === 404 || (uid !== undefined && status === 409)) return 'absent';
        throw err;
      }
    },

    async listJobs(signal) {
      const labelSelector = managedBySelector;
      const list = await kubeCall(
        policy,
        'list',
        'jobs',
        (s) => batch.listNamespacedJob({ namespace, labelSelector }, withSignal(s)),
        signal,
      );
      return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? '' };
    },

    async listPods(signal, labelSelector = managedBySelector) {
      const list = await kubeCall(
        policy,
        'list',
        'pods',
        (s) => core.listNamespacedPod({ namespace, labelSelector }, withSignal(s)),
        signal,
      );
      return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? '' };
    },

    async listEvents(involvedObjectName, signal) {
      const fieldSelector = `involvedObject.name=${involvedObjectName}`;
      const list = await kubeCall(
        policy,
        'list',
        'events',
        (s) => core.listNamespacedEvent({ namespace, fieldSelector }, withSignal(s)),
        signal,
      );
      return list.items;
    },
  };
}
