import { BatchV1Api, Watch, type V1Job } from '@kubernetes/client-node';
import type { SimulatedCluster } from '../src/sim/index.js';

/** A Job the scripted runtime completes at once (the default script: exit 0, no output). */
export function instantJob(name: string, label: string): V1Job {
  return {
    metadata: { name, labels: { bench: label } },
    spec: {
      backoffLimit: 0,
      template: {
        spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox:1.36', command: ['true'] }] },
      },
    },
  };
}

/** A Job's next awaited moment on the watch. */
interface Waiter {
  awaiting: 'Complete' | 'DELETED';
  resolve: () => void;
  reject: (err: Error) => void;
}

/** What one churn run measured. */
export interface ChurnResult {
  elapsedMs: number;
  /** create request sent → Complete seen on the watch, per Job, in ms. */
  completeLatencies: number[];
}

/**
 * Takes `count` Jobs through create → Complete → delete (Background) against `cluster` over
 * HTTP with client-node, at most `inFlight` at a time; completion and deletion are seen on one
 * watch, as a real controller would see them. Resolves once every Job is gone.
 */
export async function churnJobs(
  cluster: SimulatedCluster,
  options: { count: number; inFlight: number; label: string; namespace?: string },
): Promise<ChurnResult> {
  const namespace = options.namespace ?? 'default';
  const batch = cluster.kubeConfig.makeApiClient(BatchV1Api);
  const waiters = new Map<string, Waiter>();
  let watchFailure: Error | undefined;
  let stopping = false;
  const watch = await new Watch(cluster.kubeConfig).watch(
    `/apis/batch/v1/namespaces/${namespace}/jobs`,
    { labelSelector: `bench=${options.label}` },
    (type, job: V1Job) => {
      const name = job.metadata?.name ?? '';
      const waiter = waiters.get(name);
      if (!waiter) return;
      const reached =
        waiter.awaiting === 'DELETED'
          ? type === 'DELETED'
          : job.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True');
      if (!reached) return;
      waiters.delete(name);
      waiter.resolve();
    },
    (err) => {
      if (stopping) return;
      // Any end of the bench's watch (even a clean one) would leave Jobs waiting forever.
      watchFailure = new Error(`the bench watch ended: ${String(err)}`);
      for (const waiter of waiters.values()) waiter.reject(watchFailure);
      waiters.clear();
    },
  );
  const until = (name: string, awaiting: Waiter['awaiting']): Promise<void> =>
    watchFailure
      ? Promise.reject(watchFailure)
      : new Promise((resolve, reject) => waiters.set(name, { awaiting, resolve, reject }));

  const completeLatencies: number[] = [];
  const started = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < options.count) {
      const name = `${options.label}-${next++}`;
      const sent = performance.now();
      // Armed before the request: the event may arrive before the response.
      await Promise.all([
        until(name, 'Complete'),
        batch.createNamespacedJob({ namespace, body: instantJob(name, options.label) }),
      ]);
      completeLatencies.push(performance.now() - sent);
      await Promise.all([
        until(name, 'DELETED'),
        batch.deleteNamespacedJob({ namespace, name, propagationPolicy: 'Background' }),
      ]);
    }
  };
  try {
    await Promise.all(Array.from({ length: options.inFlight }, worker));
    return { elapsedMs: performance.now() - started, completeLatencies };
  } finally {
    stopping = true;
    watch.abort();
  }
}

/** The `q` quantile (0..1) of `values`. */
export function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}
