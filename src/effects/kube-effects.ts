import type { KubeConfig } from '@kubernetes/client-node';
import { JobWatcher, type JobWatcherOptions } from './job-watcher.js';
import { createJobsGateway, type JobsGateway, type PropagationPolicy } from './jobs-gateway.js';
import type { KubeCallPolicy } from './kube-call.js';
import { createKubeClient, type KubeClient } from './kube-client.js';
import { RateLimiter, type RateLimiterOptions } from './rate-limiter.js';
import type { RetryPolicy } from './retry.js';
import type { KubeTelemetry } from './telemetry.js';

export interface KubeEffectsOptions {
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
  watch?: Omit<JobWatcherOptions, 'client' | 'gateway'>;
  /** Cap of every log read. @default 1048576 */
  logMaxBytes?: number;
  onRetry?: KubeCallPolicy['onRetry'];
  /** Told of every request attempt, retry, rate-limiter wait and watch event. Must not throw. */
  telemetry?: KubeTelemetry;
}

/** The Kubernetes side of one runner, wired: one limiter in front of everything, one shared watch. */
export interface KubeEffects {
  client: KubeClient;
  limiter: RateLimiter;
  gateway: JobsGateway;
  /** Not started: `await watcher.start()`, and `stop()` it on shutdown. */
  watcher: JobWatcher;
}

/**
 * Wires the client, the rate limiter, the gateway (logs included) and the shared watcher of one
 * runner, ready for `createTaskEffects`.
 *
 * @example
 * ```ts
 * const kube = createKubeEffects({ kubeConfig, namespace: '' });
 * await kube.watcher.start();
 * const actors = createTaskEffects({ ...kube, store });
 * ```
 */
export function createKubeEffects(options: KubeEffectsOptions): KubeEffects {
  const client = createKubeClient(options.kubeConfig, options.namespace);
  const { telemetry } = options;
  const limiter = new RateLimiter({ ...options.rateLimit, onWait: telemetry ? (waitedMs) => telemetry({ type: 'throttled', waitedMs }) : undefined });
  const gateway = createJobsGateway({
    client,
    limiter,
    retry: options.retry,
    requestTimeoutMs: options.requestTimeoutMs,
    propagationPolicy: options.propagationPolicy,
    onRetry: options.onRetry,
    telemetry,
    logMaxBytes: options.logMaxBytes,
  });
  const onWatchEvent = options.watch?.onEvent;
  const watcher = new JobWatcher({
    ...options.watch,
    client,
    gateway,
    onEvent: (event) => {
      onWatchEvent?.(event);
      telemetry?.({ type: 'watch', event });
    },
  });
  return { client, limiter, gateway, watcher };
}
