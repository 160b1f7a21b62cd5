import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { finished } from 'node:stream';
import { ApiException } from '@kubernetes/client-node';
import { KubernetesApiError } from '../errors.js';
import type { V1Pod } from '@kubernetes/client-node';
import type { PodView } from '../machines/task/contract.js';
import { kubeCall, type KubeCallPolicy } from './kube-call.js';
import type { KubeClient } from './kube-client.js';
import { taskContainerName } from './labels.js';
import { toPodView } from './views.js';

/** Room kept for the truncation marker inside the cap. */
const markerReserve = 64;

/** `\n… [N bytes truncated] …\n`, between the head and the tail of a capped log. */
export function truncationMarker(omittedBytes: number): string {
  return `\n… [${omittedBytes} bytes truncated] …\n`;
}

/** A log, capped. */
export interface CappedLog {
  /** The whole log, or head + marker + tail; never more than the cap in UTF-8 bytes. */
  text: string;
  /** Bytes the log had in all. */
  totalBytes: number;
  truncated: boolean;
}

/** A capped log of one container. */
export interface PodLog extends CappedLog {
  pod: string;
  container: string;
}

/**
 * Collects a stream into a capped log in O(cap) memory: everything up to the cap; past it the
 * first half is kept as the head and only a rolling tail of the rest.
 */
export class CappedLogCollector {
  readonly #maxBytes: number;
  readonly #headBytes: number;
  readonly #tailBytes: number;
  #chunks: Buffer[] = [];
  #held = 0;
  #total = 0;
  #head: Buffer | undefined;

  constructor(maxBytes: number) {
    if (!(maxBytes > markerReserve * 2)) throw new RangeError(`log cap must exceed ${markerReserve * 2} bytes, got ${maxBytes}`);
    this.#maxBytes = maxBytes;
    this.#headBytes = Math.floor((maxBytes - markerReserve) / 2);
    this.#tailBytes = maxBytes - markerReserve - this.#headBytes;
  }

  push(chunk: Buffer): void {
    this.#total += chunk.length;
    this.#chunks.push(chunk);
    this.#held += chunk.length;
    if (!this.#head) {
      if (this.#held <= this.#maxBytes) return;
      const all = Buffer.concat(this.#chunks);
      this.#head = Buffer.from(all.subarray(0, this.#headBytes));
      this.#chunks = [all.subarray(this.#headBytes)];
      this.#held = all.length - this.#headBytes;
    }
    // Drop whole chunks that lie entirely before the tail window.
    while (this.#chunks.length > 1 && this.#held - (this.#chunks[0]?.length ?? 0) >= this.#tailBytes) {
      this.#held -= this.#chunks.shift()?.length ?? 0;
    }
  }

  /** Bytes held now: at most the cap plus one chunk, however long the log. */
  heldBytes(): number {
    return (this.#head?.length ?? 0) + this.#held;
  }

  result(): CappedLog {
    const rest = Buffer.concat(this.#chunks);
    if (!this.#head) return { text: rest.toString('utf8'), totalBytes: this.#total, truncated: false };
    // Cut on UTF-8 character boundaries: never half a character at either side of the marker.
    let headEnd = this.#head.length;
    while (headEnd > 0 && ((this.#head[headEnd] ?? 0) & 0xc0) === 0x80) headEnd--;
    let tailStart = Math.max(0, rest.length - this.#tailBytes);
    while (tailStart < rest.length && ((rest[tailStart] ?? 0) & 0xc0) === 0x80) tailStart++;
    const head = this.#head.subarray(0, headEnd);
    const tail = rest.subarray(tailStart);
    const omitted = this.#total - head.length - tail.length;
    return { text: `${head.toString('utf8')}${truncationMarker(omitted)}${tail.toString('utf8')}`, totalBytes: this.#total, truncated: true };
  }
}

/** The last `count` lines of a log (a trailing newline does not count as an empty line). */
export function lastLines(text: string, count = 20): string[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.slice(-count);
}

/** The Job's newest pod (the one whose log tells how the Job ended). */
export function latestPod(pods: readonly PodView[]): PodView | undefined {
  return [...pods].sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.name.localeCompare(a.name))[0];
}

/** The container whose log is the task's: `task`, else (a pod we did not template) its first. */
export function logContainerOf(pod: PodView): string {
  return pod.containers.length === 0 || pod.containers.some((c) => c.name === taskContainerName) ? taskContainerName : (pod.containers[0]?.name ?? taskContainerName);
}

export interface LogReaderOptions {
  client: KubeClient;
  /** Rate limit, retries and per-attempt timeout: the gateway's. */
  policy: KubeCallPolicy;
  /** Lists pods by label selector (the gateway's `listPods`), for a Job whose pods the caller does not know. */
  listPods: (signal: AbortSignal | undefined, labelSelector: string) => Promise<{ items: V1Pod[] }>;
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
  readonly #listPods: LogReaderOptions['listPods'];
  readonly maxBytes: number;

  constructor(options: LogReaderOptions) {
    this.#client = options.client;
    this.#policy = options.policy;
    this.#listPods = options.listPods;
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
      const log = await kubeCall(this.#policy, 'get', `pods/${pod}/log`, (s) => this.#stream(pod, container, maxBytes, s), options.signal, Infinity);
      return { ...log, pod, container };
    } catch (err) {
      if (err instanceof KubernetesApiError && err.statusCode === 400) return { text: '', totalBytes: 0, truncated: false, pod, container };
      if (err instanceof KubernetesApiError && err.statusCode === 404) return undefined;
      throw err;
    }
  }

  /**
   * The log of the Job's newest pod. `pods` is what the caller knows (the shared watch); without
   * it the pods are listed by the Job's label. Undefined when the Job has no pod left.
   */
  async readJobLog(jobName: string, options: LogReadOptions & { pods?: readonly PodView[] } = {}): Promise<PodLog | undefined> {
    const pods = options.pods ?? (await this.#listPods(options.signal, `batch.kubernetes.io/job-name=${jobName}`)).items.map(toPodView);
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
 * kubeconfig's credentials, and resolves with the 200 response once its headers arrived, for the
 * caller to stream. client-node's `Log` is not used: it loses stream errors, so a cut connection
 * would look like the end of the log. Any other status rejects with an `ApiException` carrying
 * the Status body (for `kubeCall` to classify).
 */
export async function openPodLog(client: KubeClient, pod: string, params: Record<string, string>, signal: AbortSignal): Promise<IncomingMessage> {
  const { kubeConfig, namespace } = client;
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  const url = new URL(`${cluster.server}/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/log`);
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  const options: https.RequestOptions = {};
  await kubeConfig.applyToHTTPSOptions(options);
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    const request = (url.protocol === 'https:' ? https : http).request(url, { ...options, method: 'GET', signal }, resolve);
    request.on('error', reject);
    request.end();
  });
  const status = response.statusCode ?? 0;
  if (status === 200) return response;
  // Error bodies are small Status objects; keep at most 64 KiB of whatever arrives.
  const errorBody = new CappedLogCollector(64 * 1024);
  response.on('data', (chunk: Buffer) => errorBody.push(chunk));
  // An error body cut short still leaves the status, which is what decides; the cut is not the failure.
  await new Promise<void>((resolve) => finished(response, () => resolve()));
  throw new ApiException(status, `log request answered ${status}`, errorBody.result().text, response.headers as Record<string, string>);
}
