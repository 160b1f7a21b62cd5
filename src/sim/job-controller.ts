import type { SimContext } from './context.js';
import type { Controller } from './controller.js';
import { removeTrackingFinalizer } from './job-pod-control.js';
import { controllerOf, hasTrackingFinalizer, jobControllerOf } from './job-pods.js';
import { isJobFinished } from './job-status.js';
import { JobSyncer } from './job-sync.js';
import type { KubeObject, OwnerReference, StoreEvent } from './types.js';
import { objectKey, splitObjectKey, WorkQueue } from './work-queue.js';

/** The Job controller's own durations (`SimulatedClusterOptions.jobController`). */
export interface JobControllerOptions {
  /**
   * Pod re-create back-off after a failure (cluster ms, scaled by `timeScale`), doubled for each
   * further consecutive failure (`DefaultJobPodFailureBackOff`).
   * @default 10000
   */
  podBackoffBaseMs?: number;
  /**
   * Cap of the pod re-create back-off (cluster ms, scaled). Kubernetes 1.31+ caps at 10 minutes
   * (`MaxJobPodFailureBackOff`; the docs' "six minutes" predates it).
   * @default 600000
   */
  podBackoffMaxMs?: number;
  /**
   * `syncJobBatchPeriod`: pod events and status updates are batched this long before the Job is
   * synced again (cluster ms, scaled); Job creations and spec changes sync at once.
   * @default 1000
   */
  syncBatchPeriodMs?: number;
}

/**
 * The Job controller of Kubernetes 1.31+ (`pkg/controller/job/job_controller.go`), driven by
 * the object store's change events the way the real one is driven by informers:
 *
 * - pods named `<job>-xxxxx` (Indexed: `<job>-<i>-xxxxx`) with the Job's labels, a controller
 *   ownerReference and the `batch.kubernetes.io/job-tracking` finalizer, created through the
 *   API rules (pod defaults, validation, generateName);
 * - finished pods counted through `status.uncountedTerminatedPods`, then their finalizer removed;
 * - `backoffLimit` (pod failures, or container restarts with `OnFailure`),
 *   `activeDeadlineSeconds`, completions/parallelism, suspend/resume;
 * - interim `FailureTarget`/`SuccessCriteriaMet` before `Failed`/`Complete`, the terminal one only
 *   once no pod is terminating and every finished pod is counted;
 * - pod re-creation back-off 10 s·2ⁿ⁻¹ (capped) after consecutive failures;
 * - Events as Kubernetes records them.
 *
 * Per-Job pod indexes keep every sync proportional to that Job's pods, never to the cluster.
 */
export class JobController implements Controller {
  readonly #ctx: SimContext;
  readonly #batchMs: number;
  readonly #queue: WorkQueue;
  readonly #orphans: WorkQueue;
  /** Job key → uid, to resolve controller references without reading the Job. */
  readonly #jobUids = new Map<string, string>();
  /** Uids of Jobs that reached Complete or Failed. */
  readonly #finished = new Set<string>();
  /** Job uid → names of the pods it controls (same namespace). */
  readonly #podsByJob = new Map<string, Set<string>>();
  readonly #syncer: JobSyncer;
  readonly #unsubscribe: () => void;

  constructor(ctx: SimContext, options: JobControllerOptions = {}) {
    this.#ctx = ctx;
    this.#batchMs = options.syncBatchPeriodMs ?? 1000;
    const onError = (key: string, err: unknown) =>
      process.emitWarning(`job-controller: syncing ${key} failed: ${err instanceof Error ? err.stack : String(err)}`);
    this.#syncer = new JobSyncer({
      ctx,
      podsOf: (job) => this.#podsOf(job),
      requeue: (key, delayMs) => this.#queue.addAfter(key, delayMs),
      batchDelayMs: () => this.#batchDelay,
      backoffBaseMs: options.podBackoffBaseMs ?? 10_000,
      backoffMaxMs: options.podBackoffMaxMs ?? 600_000,
    });
    this.#queue = new WorkQueue({ clock: ctx.clock, handle: (key) => this.#syncer.sync(key), onError });
    this.#orphans = new WorkQueue({ clock: ctx.clock, handle: (key) => this.#syncOrphanPod(key), onError });
    for (const pod of ctx.store.list('pods')) this.#indexPod(undefined, pod);
    for (const job of ctx.store.list('jobs')) {
      this.#jobUids.set(objectKey(job), job.metadata.uid);
      if (isJobFinished(job)) this.#finished.add(job.metadata.uid);
      this.#queue.add(objectKey(job));
    }
    this.#unsubscribe = ctx.store.subscribe((event) => this.#onEvent(event));
  }

  stop(): void {
    this.#unsubscribe();
    this.#queue.stop();
    this.#orphans.stop();
  }

  get #batchDelay(): number {
    return this.#batchMs * this.#ctx.clock.timeScale;
  }

  // ---- event handlers (informer callbacks): index and enqueue, never sync inline ----

  #onEvent(event: StoreEvent): void {
    if (event.resource === 'jobs') this.#onJobEvent(event);
    else if (event.resource === 'pods') this.#onPodEvent(event);
  }

  #onJobEvent({ type, object: job, previous }: StoreEvent): void {
    const key = objectKey(job);
    if (type === 'DELETED') {
      if (this.#jobUids.get(key) === job.metadata.uid) this.#jobUids.delete(key);
      this.#finished.delete(job.metadata.uid);
      this.#queue.add(key);
      this.#cleanupPodFinalizers(job);
      return;
    }
    this.#jobUids.set(key, job.metadata.uid);
    if (type === 'ADDED' || job.metadata.generation !== previous?.metadata.generation) this.#queue.add(key);
    else this.#queue.addAfter(key, this.#batchDelay);
    if (isJobFinished(job)) {
      this.#finished.add(job.metadata.uid);
      // Finished Jobs never count pods again: a backup in case a pod kept its finalizer.
      this.#cleanupPodFinalizers(job);
    }
    const deadline = job.spec?.activeDeadlineSeconds;
    if (
      type === 'MODIFIED' &&
      job.status?.startTime &&
      typeof deadline === 'number' &&
      deadline !== previous?.spec?.activeDeadlineSeconds
    ) {
      this.#queue.addAfter(key, Date.parse(job.status.startTime) + deadline * 1000 - this.#ctx.clock.now());
    }
  }

  #indexPod(previous: KubeObject | undefined, current: KubeObject | undefined): void {
    const before = previous && jobControllerOf(previous);
    const after = current && jobControllerOf(current);
    const name = (current ?? previous)?.metadata.name ?? '';
    if (before && before.uid !== after?.uid) {
      const set = this.#podsByJob.get(before.uid);
      set?.delete(name);
      if (set?.size === 0) this.#podsByJob.delete(before.uid);
    }
    if (after) {
      let set = this.#podsByJob.get(after.uid);
      if (!set) this.#podsByJob.set(after.uid, (set = new Set()));
      set.add(name);
    }
  }

  #onPodEvent({ type, object: pod, previous }: StoreEvent): void {
    this.#indexPod(previous, type === 'DELETED' ? undefined : pod);
    if (type === 'DELETED' || pod.metadata.deletionTimestamp) {
      this.#podGone(pod);
      return;
    }
    const before = previous && controllerOf(previous);
    const after = controllerOf(pod);
    if (before && before.uid !== after?.uid) this.#enqueueOwner(pod, before);
    if (after) this.#enqueueOwner(pod, after);
    else if (hasTrackingFinalizer(pod)) this.#orphans.add(objectKey(pod));
  }

  /** `deletePod`: a pod being deleted or gone wakes its Job, or has its finalizer cleaned up. */
  #podGone(pod: KubeObject): void {
    const ref = controllerOf(pod);
    const ownerKnown = ref !== undefined && this.#resolves(pod, ref) && !this.#finished.has(ref.uid);
    if (!ownerKnown) {
      if (hasTrackingFinalizer(pod)) this.#orphans.add(objectKey(pod));
      return;
    }
    this.#queue.addAfter(`${pod.metadata.namespace}/${ref.name}`, this.#batchDelay);
  }

  #resolves(pod: KubeObject, ref: OwnerReference): boolean {
    return ref.kind === 'Job' && this.#jobUids.get(`${pod.metadata.namespace}/${ref.name}`) === ref.uid;
  }

  #enqueueOwner(pod: KubeObject, ref: OwnerReference): void {
    if (this.#resolves(pod, ref)) this.#queue.addAfter(`${pod.metadata.namespace}/${ref.name}`, this.#batchDelay);
  }

  #cleanupPodFinalizers(job: KubeObject): void {
    for (const name of this.#podsByJob.get(job.metadata.uid) ?? []) {
      const pod = this.#ctx.store.read('pods', job.metadata.namespace, name);
      if (pod && hasTrackingFinalizer(pod)) this.#orphans.add(objectKey(pod));
    }
  }

  // ---- orphan pods ----

  /** `syncOrphanPod`: removes the tracking finalizer of a pod no unfinished Job controls. */
  #syncOrphanPod(key: string): void {
    const [namespace, name] = splitObjectKey(key);
    const pod = this.#ctx.store.read('pods', namespace, name);
    if (!pod) return;
    const ref = controllerOf(pod);
    if (ref) {
      if (ref.kind !== 'Job' || ref.apiVersion !== 'batch/v1') return;
      if (this.#resolves(pod, ref) && !this.#finished.has(ref.uid)) return;
    }
    removeTrackingFinalizer(this.#ctx, pod);
  }

  // ---- the pods a sync works on ----

  #podsOf(job: KubeObject): KubeObject[] {
    const pods: KubeObject[] = [];
    for (const name of this.#podsByJob.get(job.metadata.uid) ?? []) {
      const pod = this.#ctx.store.read('pods', job.metadata.namespace, name);
      if (pod && jobControllerOf(pod)?.uid === job.metadata.uid) pods.push(pod);
    }
    return pods;
  }
}

/**
 * Starts the Job controller on the simulated cluster's store.
 *
 * @example
 * ```ts
 * const controller = startJobController(ctx, { podBackoffBaseMs: 10_000 });
 * // ... later
 * controller.stop();
 * ```
 */
export function startJobController(ctx: SimContext, options: JobControllerOptions = {}): Controller {
  return new JobController(ctx, options);
}
