import type { IncomingMessage } from 'node:http';
import { finished } from 'node:stream';
import { KubernetesApiError } from '../errors.js';
import { taskContainerName } from '../jobs/labels.js';
import { CappedLogCollector, type CappedLog } from '../logs/capped-log.js';
import type { PodView } from '../machines/task/contract.js';
import type { JobLogReadOptions, PodLog } from '../ports/job-logs.js';
import { kubeCall, type KubeCallPolicy } from './kube-call.js';
import type { KubeClient } from './kube-client.js';
import { apiExceptionOf, openRequest } from './kube-request.js';

/** The Job's newest pod (the one whose log tells how the Job ended). */
export function latestPod(pods: readonly PodView[]): PodView | undefined {
  return [...pods].sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.name.localeCompare(a.name))[0];
}

/** The container whose log is the task's: `task`, else (a pod we did not template) its first. */
export function logContainerOf(pod: PodView): string {
  const hasTask = pod.containers.length === 0 || pod.containers.some((c) => c.name === taskContainerName);
  return hasTask ? taskContainerName : (pod.containers[0]?.name ?? taskContainerName);
}

export interface LogReaderOptions {
  client: KubeClient;
  /** Rate limit, retries and per-attempt timeout: the adapter's. */
  policy: KubeCallPolicy;
  /** Lists a Job's pods, for a Job whose pods the caller does not know. */
  listJobPods: (jobName: string, signal?: AbortSignal) => Promise<readonly PodView[]>;
  /** Default cap of a read (head + marker + tail). @default 1048576 */
  maxBytes?: number;
}

/** Options of one log read. */
export interface LogReadOptions {
  signal?: AbortSignal;
  /** Cap of this read. @default the reader's `maxBytes` */
  maxBytes?: number;
}

/**
 * Reads container logs capped, streaming the response so a 5 MB log never sits in memory whole.
 *
 * It makes the request itself (the kubeconfig's agent, TLS and auth headers through
 * `applyToHTTPSOptions`) rather than through client-node's `Log`, which loses stream errors
 * (its `pipe` does not forward them, so a dropped connection would hang the read) and the error
 * body, and `readNamespacedPodLog`, which buffers the whole log (libraries.md §3.8, pitfall 28).
 */
export class LogReader {
  readonly #client: KubeClient;
  readonly #policy: KubeCallPolicy;
  readonly #listJobPods: LogReaderOptions['listJobPods'];
  readonly maxBytes: number;

  constructor(options: LogReaderOptions) {
    this.#client = options.client;
    this.#policy = options.policy;
    this.#listJobPods = options.listJobPods;
    this.maxBytes = options.maxBytes ?? 1024 * 1024;
  }

  /**
   * A container's log, capped. A container that has not started (`400`) has an empty log; a pod
   * that is gone (`404`) gives undefined.
   */
  async readPodLog(pod: string, container: string, options: LogReadOptions = {}): Promise<PodLog | undefined> {
    const maxBytes = options.maxBytes ?? this.maxBytes;
    try {
      // A long log may take long to stream: the attempt times out when the stream goes quiet
      // for `requestTimeoutMs`, not after a fixed total.
      const log = await kubeCall(
        this.#policy,
        'get',
        `pods/${pod}/log`,
        (s) => this.#stream(pod, container, maxBytes, s),
        options.signal,
        Infinity,
      );
      return { ...log, pod, container };
    } catch (err) {
      if (err instanceof KubernetesApiError && err.statusCode === 400)
        return { text: '', totalBytes: 0, truncated: false, pod, container };
      if (err instanceof KubernetesApiError && err.statusCode === 404) return undefined;
      throw err;
    }
  }

  /**
   * The log of the Job's newest pod. `pods` is what the caller knows (the shared watch); without
   * it the pods are listed by the Job's label. Undefined when the Job has no pod left.
   */
  async readJobLog(jobName: string, options: JobLogReadOptions = {}): Promise<PodLog | undefined> {
    const pods = options.pods ?? (await this.#listJobPods(jobName, options.signal));
    const pod = latestPod(pods);
    if (!pod) return undefined;
    return this.readPodLog(pod.name, logContainerOf(pod), options);
  }

  async #stream(pod: string, container: string, maxBytes: number, signal: AbortSignal): Promise<CappedLog> {
    const collector = new CappedLogCollector(maxBytes);
    const idle = new AbortController();
    const idleMs = this.#policy.requestTimeoutMs ?? 30_000;
    let idleTimer = setTimeout(() => idle.abort(), idleMs);
    const stillAlive = (): void => {
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => idle.abort(), idleMs);
    };
    try {
      const response = await openPodLog(this.#client, pod, { container }, AbortSignal.any([signal, idle.signal]));
      response.on('data', (chunk: Buffer) => {
        stillAlive();
        collector.push(chunk);
      });
      await new Promise<void>((resolve, reject) => finished(response, (err) => (err ? reject(err) : resolve())));
      return collector.result();
    } finally {
      clearTimeout(idleTimer);
    }
  }
}

/**
 * Requests a pod's log (`GET …/pods/<pod>/log` with `params`) over Node's own HTTP client with the
 * kubeconfig's credentials (`kube-request.ts`), and resolves with the 200 response once its
 * headers arrived, for the caller to stream. client-node's `Log` is not used: it loses stream
 * errors, so a cut connection would look like the end of the log. Any other status rejects with
 * an `ApiException` carrying the Status body (for `kubeCall` to classify).
 */
export async function openPodLog(
  client: KubeClient,
  pod: string,
  params: Record<string, string>,
  signal: AbortSignal,
): Promise<IncomingMessage> {
  const path = `/api/v1/namespaces/${encodeURIComponent(client.namespace)}/pods/${encodeURIComponent(pod)}/log`;
  const response = await openRequest(client, { method: 'GET', path, query: params }, signal);
  const status = response.statusCode ?? 0;
  if (status === 200) return response;
  throw await apiExceptionOf(response, `log request answered ${status}`);
}
