import type { KubernetesApiError } from '../errors.js';

/** The two resources the shared watch follows. */
export type WatchedResource = 'jobs' | 'pods';

/** What the shared watch (`JobWatcher`) reports through its `onEvent`. */
export type WatcherEvent =
  | { type: 'listed'; resource: WatchedResource; items: number; resourceVersion: string }
  | { type: 'expired'; resource: WatchedResource }
  | { type: 'reconnecting'; resource: WatchedResource; delayMs: number; error?: KubernetesApiError }
  | { type: 'stalled'; resource: WatchedResource }
  | { type: 'lookup-failed'; jobName: string; error: unknown }
  | { type: 'listener-error'; jobName: string; error: unknown };

/**
 * What the Kubernetes side of a runner reports as it works, for metrics, logs and `events$`.
 * `resource` is a resource type (`jobs`, `pods`, `pods/log`, `events`), never an object's name,
 * so it can label a metric.
 */
export type KubeTelemetryEvent =
  /** One attempt of one API request ended (a retried call makes one per attempt). */
  | {
      type: 'request';
      verb: string;
      resource: string;
      outcome: 'ok' | 'error';
      /** The HTTP status of a failed attempt; 0 for a network error or a per-attempt timeout. */
      statusCode?: number;
      durationMs: number;
    }
  /** A transient failure is about to be retried after `delayMs`. */
  | { type: 'retry'; verb: string; resource: string; attempt: number; delayMs: number; error: KubernetesApiError }
  /** A request waited this long for a token of the client-side rate limiter (only waits > 0). */
  | { type: 'throttled'; waitedMs: number }
  /** Something the shared watch did (LIST, 410, reconnect, stall...). */
  | { type: 'watch'; event: WatcherEvent };

/**
 * The one hook the effects report through. A plain callback: effects stay free of RxJS and
 * metrics libraries. It must not throw (it runs inside request and watch loops).
 */
export type KubeTelemetry = (event: KubeTelemetryEvent) => void;

/**
 * The resource type of a request's resource path: `jobs/my-job` → `jobs`, `pods/p-1/log` →
 * `pods/log`. Object names would give metrics one series per task.
 */
export function resourceType(resource: string): string {
  const parts = resource.split('/');
  const kind = parts[0] ?? resource;
  return parts.length >= 3 ? `${kind}/${parts[parts.length - 1] ?? ''}` : kind;
}
