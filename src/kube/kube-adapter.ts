import type { KubeConfig } from '@kubernetes/client-node';
import type { JobsPort } from '../ports/jobs-port.js';
import { createKubeApi, type KubeApi, type PropagationPolicy } from './kube-api.js';
import type { KubeCallPolicy } from './kube-call.js';
import { createKubeClient, type KubeClient } from './kube-client.js';
import { createKubeJobs, listJobPods } from './kube-jobs.js';
import { JobWatcher, type JobWatcherOptions } from './job-watcher.js';
import { JobLogFollower } from './log-follow.js';
import { LogReader } from './logs.js';
import { RateLimiter, type RateLimiterOptions } from './rate-limiter.js';
import type { RetryPolicy } from './retry.js';
import type { KubeTelemetry } from './telemetry.js';

export interface KubeAdapterOptions {
  kubeConfig: KubeConfig;
  /** `''` = the kubeconfig context's namespace, else the pod's own, else `default`. */
  namespace: string;
  /** @default { qps: 20, burst: 30 } */
  rateLimit?: Pick<RateLimiterOptions, 'qps' | 'burst'>;
  retry?: RetryPolicy;
  /** @default 30000 */
  requestTimeoutMs?: number;
  /** @default 'Background' */
  propagationPolicy?: PropagationPolicy;
  /** `ttlSecondsAfterFinished` of created Jobs whose task sets none (a cluster-side backstop). @default none */
  defaultTtlSecondsAfterFinished?: number;
  watch?: Omit<JobWatcherOptions, 'client' | 'api'>;
  /** Cap of every log read. @default 1048576 */
  logMaxBytes?: number;
  onRetry?: KubeCallPolicy['onRetry'];
  /** Told of every request attempt, retry, rate-limiter wait and watch event. Must not throw. */
  telemetry?: KubeTelemetry;
}

/**
 * The Kubernetes side of one runner, wired over client-node: one limiter in front of every call,
 * one shared watch. The engine uses `jobs` (a `JobsPort`) and `watcher` (a `ManagedJobObserver`);
 * the rest is here for the adapter's own tests.
 */
export interface KubeAdapter {
  jobs: JobsPort;
  /** Not started: `await watcher.start()`, and `stop()` it on shutdown. */
  watcher: JobWatcher;
  client: KubeClient;
  limiter: RateLimiter;
  api: KubeApi;
  logs: LogReader;
}

/**
 * Wires the client, the rate limiter, the calls, the log reader and follower, and the shared
 * watcher of one runner, ready for `createTaskEffects`.
 *
 * @example
 * ```ts
 * const kube = createKubeAdapter({ kubeConfig, namespace: '' });
 * await kube.watcher.start();
 * const actors = createTaskEffects({ jobs: kube.jobs, observer: kube.watcher, store });
 * ```
 */
export function createKubeAdapter(options: KubeAdapterOptions): KubeAdapter {
  const client = createKubeClient(options.kubeConfig, options.namespace);
  const { telemetry } = options;
  const onWait = telemetry ? (waitedMs: number) => telemetry({ type: 'throttled', waitedMs }) : undefined;
  const limiter = new RateLimiter({ ...options.rateLimit, onWait });
  const policy: KubeCallPolicy = {
    limiter,
    retry: options.retry,
    requestTimeoutMs: options.requestTimeoutMs,
    onRetry: options.onRetry,
    telemetry,
  };
  const api = createKubeApi({ client, policy, propagationPolicy: options.propagationPolicy });
  const logs = new LogReader({
    client,
    policy,
    listJobPods: (jobName, signal) => listJobPods(api, jobName, signal),
    maxBytes: options.logMaxBytes,
  });
  const follower = new JobLogFollower({ client, policy });
  const { defaultTtlSecondsAfterFinished } = options;
  const jobs = createKubeJobs({ api, logs, follower, defaultTtlSecondsAfterFinished });
  const onWatchEvent = options.watch?.onEvent;
  const watcher = new JobWatcher({
    ...options.watch,
    client,
    api,
    onEvent: (event) => {
      onWatchEvent?.(event);
      telemetry?.({ type: 'watch', event });
    },
  });
  return { jobs, watcher, client, limiter, api, logs };
}
