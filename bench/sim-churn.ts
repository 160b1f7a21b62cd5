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

/** A Job's next awaited moment on a watch: its `Complete` condition True, or its DELETED event. */
export type JobMilestone = 'Complete' | 'DELETED';

interface Waiter {
  awaiting: JobMilestone;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** What {@link JobMilestones.seen} reads of a watch event's Job. */
interface WatchedJob {
  metadata?: { name?: string };
  status?: { conditions?: { type: string; status: string }[] };
}

/**
 * The Jobs a bench waits for on a watch of its own: `until` arms a wait (before the request, as the
 * event may come before the answer), `seen` is given every event, `fail` rejects every wait, and
 * every later one, when the watch is lost.
 */
export class JobMilestones {
  readonly #waiters = new Map<string, Waiter>();
  #failure: Error | undefined;

  /** Why the waits fail, once `fail` was called. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  until(name: string, awaiting: JobMilestone): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => this.#waiters.set(name, { awaiting, resolve, reject }));
  }

  seen(type: string, job: WatchedJob): void {
    const name = job.metadata?.name ?? '';
    const waiter = this.#waiters.get(name);
    if (!waiter) return;
    const reached =
      waiter.awaiting === 'DELETED'
        ? type === 'DELETED'
        : job.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True');
    if (!reached) return;
    this.#waiters.delete(name);
    waiter.resolve();
  }

  fail(err: Error): void {
    this.#failure ??= err;
    for (const waiter of this.#waiters.values()) waiter.reject(this.#failure);
    this.#waiters.clear();
  }
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
  const milestones = new JobMilestones();
  let stopping = false;
  const watch = await new Watch(cluster.kubeConfig).watch(
    `/apis/batch/v1/namespaces/${namespace}/jobs`,
    { labelSelector: `bench=${options.label}` },
    (type, job: V1Job) => milestones.seen(type, job),
    (err) => {
      // Any end of the bench's watch (even a clean one) would leave Jobs waiting forever.
      if (!stopping) milestones.fail(new Error(`the bench watch ended: ${String(err)}`));
    },
  );
  const completeLatencies: number[] = [];
  const started = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < options.count) {
      const name = `${options.label}-${next++}`;
      const sent = performance.now();
      // Armed before the request: the event may arrive before the response.
      await Promise.all([
        milestones.until(name, 'Complete'),
        batch.createNamespacedJob({ namespace, body: instantJob(name, options.label) }),
      ]);
      completeLatencies.push(performance.now() - sent);
      await Promise.all([
        milestones.until(name, 'DELETED'),
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
