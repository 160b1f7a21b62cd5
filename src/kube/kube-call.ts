import { Observable, type ConfigurationOptions } from '@kubernetes/client-node';
import type { KubernetesApiError } from '../errors.js';
import type { Sleep } from '../time/sleep.js';
import { toKubernetesApiError } from './api-errors.js';
import type { RateLimiter } from './rate-limiter.js';
import { withRetries, type RetryPolicy } from './retry.js';
import { resourceType, type KubeTelemetry } from './telemetry.js';

/**
 * Per-request options that make client-node's generated API honour an AbortSignal. It has to
 * be the library's own Observable stub: Promise-style middleware fails (libraries.md §3.4).
 */
export function withSignal(signal: AbortSignal): ConfigurationOptions {
  return {
    middleware: [
      {
        pre: (ctx) => {
          ctx.setSignal(signal);
          return new Observable(Promise.resolve(ctx));
        },
        post: (res) => new Observable(Promise.resolve(res)),
      },
    ],
    middlewareMergeStrategy: 'append',
  };
}

/** What every Kubernetes call goes through: the shared limiter, the retry policy, a per-attempt timeout. */
export interface KubeCallPolicy {
  limiter: RateLimiter;
  retry?: RetryPolicy;
  /** One attempt may take this long before it is aborted (and retried). @default 30000 */
  requestTimeoutMs?: number;
  sleep?: Sleep;
  random?: () => number;
  /** Told of every retry (metrics). */
  onRetry?: (retry: {
    verb: string;
    resource: string;
    attempt: number;
    delayMs: number;
    error: KubernetesApiError;
  }) => void;
  /** Told of every attempt's outcome and every retry (resource types, not names). Must not throw. */
  telemetry?: KubeTelemetry;
}

/**
 * Runs one logical Kubernetes call: each attempt takes a rate-limiter token, gets a signal that
 * aborts on the caller's abort or after `requestTimeoutMs`, and its failure is classified; the
 * transient ones are retried. Rejects with `signal.reason` when the caller aborts, else with a
 * `KubernetesApiError`.
 */
export async function kubeCall<T>(
  policy: KubeCallPolicy,
  verb: string,
  resource: string,
  request: (attemptSignal: AbortSignal) => Promise<T>,
  signal?: AbortSignal,
  /** `Infinity` for requests that time themselves out (a log read: by inactivity, not length). */
  attemptTimeoutMs = policy.requestTimeoutMs ?? 30_000,
): Promise<T> {
  const { telemetry } = policy;
  const type = resourceType(resource);
  return withRetries(
    async () => {
      const attempt = new AbortController();
      const onAbort = (): void => attempt.abort(signal?.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      const timer = Number.isFinite(attemptTimeoutMs) ? setTimeout(() => attempt.abort(), attemptTimeoutMs) : undefined;
      const startedAt = performance.now();
      try {
        const result = await request(attempt.signal);
        telemetry?.({
          type: 'request',
          verb,
          resource: type,
          outcome: 'ok',
          durationMs: performance.now() - startedAt,
        });
        return result;
      } catch (err) {
        // The caller's own abort is not an outcome of the API.
        if (signal?.aborted) throw signal.reason;
        const error = toKubernetesApiError(err, verb, resource);
        telemetry?.({
          type: 'request',
          verb,
          resource: type,
          outcome: 'error',
          statusCode: error.statusCode,
          durationMs: performance.now() - startedAt,
        });
        throw error;
      } finally {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      }
    },
    {
      ...policy.retry,
      signal,
      limiter: policy.limiter,
      sleep: policy.sleep,
      random: policy.random,
      onRetry: (r) => {
        policy.onRetry?.({ verb, resource, ...r });
        telemetry?.({ type: 'retry', verb, resource: type, ...r });
      },
    },
  );
}
