import type { SimContext } from './context.js';
import { recordEvent } from './events.js';
import { formatIndexes, parseIndexes } from './job-indexes.js';
import {
  createJobPod,
  deleteJobPod,
  involvedJob,
  jobControllerSource,
  removeTrackingFinalizer,
} from './job-pod-control.js';
import {
  byDeletionPreference,
  completionIndexOf,
  finishedTime,
  hasTrackingFinalizer,
  isPodActive,
  isPodFailed,
  isPodReady,
  isPodTerminating,
  restartCount,
} from './job-pods.js';
import {
  ensureCondition,
  findCondition,
  isJobFinished,
  newCondition,
  readStatus,
  statusToJson,
  type JobCondition,
  type JobStatus,
} from './job-status.js';
import { matchPodFailurePolicy } from './pod-failure-policy.js';
import { sameJson } from './object-store.js';
import type { KubeObject } from './types.js';
import { splitObjectKey } from './work-queue.js';

/** What a Job sync needs from the controller that runs it. */
export interface JobSyncEnvironment {
  ctx: SimContext;
  /** The pods the Job controls (from the controller's per-Job index). */
  podsOf(job: KubeObject): KubeObject[];
  /** Syncs the Job again after `delayMs` real milliseconds. */
  requeue(key: string, delayMs: number): void;
  /** `syncJobBatchPeriod`, in real milliseconds. */
  batchDelayMs(): number;
  /** Pod re-create back-off base and cap, in cluster milliseconds (scaled by `timeScale`). */
  backoffBaseMs: number;
  backoffMaxMs: number;
}

/** At most this many pods created, deleted or counted per sync (`MaxPodCreateDeletePerSync`, `MaxUncountedPods`). */
const maxPodsPerSync = 500;

interface BackoffRecord {
  failuresAfterLastSuccess: number;
  /** When the controller saw the last failure (real epoch ms). */
  lastFailureTime?: number;
}

/** What one sync of one Job works on (`syncJobCtx`). */
interface SyncContext {
  key: string;
  job: KubeObject;
  status: JobStatus;
  pods: KubeObject[];
  activePods: KubeObject[];
  onlyReplaceFailed: boolean;
  uncountedSucceeded: Set<string>;
  uncountedFailed: Set<string>;
  succeeded: number;
  failed: number;
  ready: number;
  terminating: number;
  finishedCondition?: JobCondition;
  newBackoff: BackoffRecord;
  prevSucceededIndexes: Set<number>;
  succeededIndexes: Set<number>;
}

function isIndexed(job: KubeObject): boolean {
  return job.spec?.completionMode === 'Indexed';
}

function isSuspended(job: KubeObject): boolean {
  return job.spec?.suspend === true;
}

/**
 * One Job's reconciliation, `syncJob` of `pkg/controller/job/job_controller.go` (1.31+): counts
 * finished pods through `uncountedTerminatedPods`, decides success or failure (backoffLimit,
 * restarts with OnFailure, activeDeadlineSeconds, podFailurePolicy), creates or deletes pods
 * (parallelism, completions, suspend, Indexed completion), with the pod re-create back-off, and
 * writes the status in the steps Kubernetes does — interim condition first, terminal one last.
 */
export class JobSyncer {
  readonly #env: JobSyncEnvironment;
  readonly #ctx: SimContext;
  /** Consecutive pod failures per Job key (`backoffStore`). */
  readonly #backoff = new Map<string, BackoffRecord>();

  constructor(env: JobSyncEnvironment) {
    this.#env = env;
    this.#ctx = env.ctx;
  }

  #now(): string {
    return this.#ctx.clock.timestamp();
  }

  /** `syncJob`: one reconciliation of the Job `key` (`namespace/name`). */
  sync(key: string): 'retry' | void {
    const job = this.#ctx.store.read('jobs', ...splitObjectKey(key));
    if (!job) {
      this.#backoff.delete(key);
      return;
    }
    if (isJobFinished(job)) {
      this.#backoff.delete(key);
      return;
    }
    const mode = job.spec?.completionMode ?? 'NonIndexed';
    if (mode !== 'NonIndexed' && mode !== 'Indexed') {
      recordEvent(
        this.#ctx,
        involvedJob(job),
        'Warning',
        'UnknownCompletionMode',
        'Skipped Job sync because completion mode is unknown',
        jobControllerSource,
      );
      return;
    }
    const status = readStatus(job);
    const pods = this.#env.podsOf(job);
    const activePods = pods.filter(isPodActive);
    const onlyReplaceFailed = job.spec?.podReplacementPolicy === 'Failed' || job.spec?.podFailurePolicy != null;
    const sync: SyncContext = {
      key,
      job,
      status,
      pods,
      activePods,
      onlyReplaceFailed,
      uncountedSucceeded: new Set(status.uncounted.succeeded),
      uncountedFailed: new Set(status.uncounted.failed),
      succeeded: 0,
      failed: 0,
      ready: activePods.filter(isPodReady).length,
      terminating: pods.filter(isPodTerminating).length,
      newBackoff: { failuresAfterLastSuccess: 0 },
      prevSucceededIndexes: new Set(),
      succeededIndexes: new Set(),
    };
    let active = activePods.length;
    const { newSucceeded, newFailed } = this.#newFinishedPods(sync);
    sync.succeeded = status.succeeded + newSucceeded.length + sync.uncountedSucceeded.size;
    const policy = job.spec?.podFailurePolicy;
    const counted =
      policy == null ? newFailed : newFailed.filter((pod) => matchPodFailurePolicy(policy, pod).countFailed);
    sync.failed = status.failed + counted.length + sync.uncountedFailed.size;
    // Job first start. Set StartTime only if the job is not in the suspended state.
    if (!status.startTime && !isSuspended(job)) status.startTime = this.#now();
    sync.newBackoff = this.#newBackoffRecord(key, newSucceeded, newFailed);

    const backoffLimit = Number(job.spec?.backoffLimit ?? 6);
    const successMet = findCondition(status.conditions, 'SuccessCriteriaMet');
    sync.finishedCondition = successMet?.status === 'True' ? successMet : undefined;
    if (!sync.finishedCondition) {
      const target = findCondition(status.conditions, 'FailureTarget');
      if (target?.status === 'True')
        sync.finishedCondition = newCondition('Failed', 'True', target.reason ?? '', target.message ?? '', this.#now());
      else if (policy != null) {
        // A FailJob rule matched by a failed pod decides the Job before backoffLimit is looked at.
        const message = pods
          .filter((p) => isPodFailed(p, onlyReplaceFailed))
          .map((p) => matchPodFailurePolicy(policy, p).failJobMessage)
          .find((m) => m !== undefined);
        if (message)
          sync.finishedCondition = newCondition('FailureTarget', 'True', 'PodFailurePolicy', message, this.#now());
      }
    }
    if (!sync.finishedCondition) {
      const deadline = job.spec?.activeDeadlineSeconds;
      if (sync.failed > backoffLimit || this.#pastBackoffLimitOnFailure(job, pods, backoffLimit)) {
        sync.finishedCondition = newCondition(
          'FailureTarget',
          'True',
          'BackoffLimitExceeded',
          'Job has reached the specified backoff limit',
          this.#now(),
        );
      } else if (this.#pastActiveDeadline(job, status)) {
        sync.finishedCondition = newCondition(
          'FailureTarget',
          'True',
          'DeadlineExceeded',
          'Job was active longer than specified deadline',
          this.#now(),
        );
      } else if (typeof deadline === 'number' && !isSuspended(job) && status.startTime) {
        // activeDeadlineSeconds is measured against status.startTime: real time, never scaled.
        this.#env.requeue(key, Date.parse(status.startTime) + deadline * 1000 - this.#ctx.clock.now());
      }
    }
    if (isIndexed(job)) {
      const completions = Number(job.spec?.completions ?? 0);
      sync.prevSucceededIndexes = parseIndexes(status.completedIndexes, completions);
      sync.succeededIndexes = new Set(sync.prevSucceededIndexes);
      for (const pod of pods) {
        const index = completionIndexOf(pod);
        if (
          pod.status?.phase === 'Succeeded' &&
          index !== undefined &&
          index < completions &&
          hasTrackingFinalizer(pod)
        )
          sync.succeededIndexes.add(index);
      }
      sync.succeeded = sync.succeededIndexes.size;
    }

    let manageError = false;
    let suspendConditionChanged = false;
    if (sync.finishedCondition) {
      // The outcome is decided: every active pod goes (keeping its finalizer, so it is counted).
      const { deleted, deletedReady } = this.#deleteActivePods(job, activePods);
      active -= deleted;
      sync.terminating += deleted;
      sync.ready -= deletedReady;
    } else {
      let manageJobCalled = false;
      if (!job.metadata.deletionTimestamp) {
        const managed = this.#manageJob(sync, active);
        active = managed.active;
        manageError = managed.failed;
        manageJobCalled = true;
      }
      const completions = job.spec?.completions;
      const complete =
        completions == null
          ? sync.succeeded > 0 && active === 0
          : sync.succeeded >= Number(completions) && active === 0;
      if (complete) {
        sync.finishedCondition = newCondition(
          'SuccessCriteriaMet',
          'True',
          'CompletionsReached',
          'Reached expected number of succeeded pods',
          this.#now(),
        );
      } else if (manageJobCalled) {
        suspendConditionChanged = this.#updateSuspendCondition(job, status);
      }
    }
    const needsStatusUpdate =
      suspendConditionChanged ||
      active !== status.active ||
      sync.ready !== status.ready ||
      sync.terminating !== status.terminating;
    status.active = active;
    status.ready = sync.ready;
    status.terminating = sync.terminating;
    this.#trackJobStatusAndRemoveFinalizers(sync, needsStatusUpdate);
    return manageError ? 'retry' : undefined;
  }

  /** Suspended=True on suspend; Suspended=False on resume, which also restarts `startTime`. */
  #updateSuspendCondition(job: KubeObject, status: JobStatus): boolean {
    if (isSuspended(job)) {
      const changed = ensureCondition(
        status.conditions,
        'Suspended',
        'True',
        'JobSuspended',
        'Job suspended',
        this.#now(),
      );
      if (changed)
        recordEvent(this.#ctx, involvedJob(job), 'Normal', 'Suspended', 'Job suspended', jobControllerSource);
      return changed;
    }
    const changed = ensureCondition(status.conditions, 'Suspended', 'False', 'JobResumed', 'Job resumed', this.#now());
    if (changed) {
      recordEvent(this.#ctx, involvedJob(job), 'Normal', 'Resumed', 'Job resumed', jobControllerSource);
      // activeDeadlineSeconds counts continuous activity: resuming restarts the clock.
      status.startTime = this.#now();
    }
    return changed;
  }

  #pastBackoffLimitOnFailure(job: KubeObject, pods: KubeObject[], backoffLimit: number): boolean {
    if (job.spec?.template?.spec?.restartPolicy !== 'OnFailure') return false;
    const restarts = pods.reduce((sum, pod) => sum + restartCount(pod), 0);
    return backoffLimit === 0 ? restarts > 0 : restarts >= backoffLimit;
  }

  #pastActiveDeadline(job: KubeObject, status: JobStatus): boolean {
    const deadline = job.spec?.activeDeadlineSeconds;
    if (typeof deadline !== 'number' || !status.startTime || isSuspended(job)) return false;
    return this.#ctx.clock.now() - Date.parse(status.startTime) >= deadline * 1000;
  }

  /** Finished pods not yet counted nor in `uncountedTerminatedPods` (`getNewFinishedPods`). */
  #newFinishedPods(sync: SyncContext): { newSucceeded: KubeObject[]; newFailed: KubeObject[] } {
    const completions = Number(sync.job.spec?.completions ?? 0);
    const valid = (pod: KubeObject) => {
      if (!hasTrackingFinalizer(pod)) return false;
      if (!isIndexed(sync.job)) return true;
      const index = completionIndexOf(pod);
      return index !== undefined && index < completions;
    };
    return {
      newSucceeded: sync.pods.filter(
        (p) => valid(p) && !sync.uncountedSucceeded.has(p.metadata.uid) && p.status?.phase === 'Succeeded',
      ),
      newFailed: sync.pods.filter(
        (p) => valid(p) && !sync.uncountedFailed.has(p.metadata.uid) && isPodFailed(p, sync.onlyReplaceFailed),
      ),
    };
  }

  /**
   * `newBackoffRecord`: consecutive failures since the last success. The failure time is when
   * the controller saw it: pods' timestamps have one-second precision, too coarse for a scaled
   * clock; finish times only order successes against failures.
   */
  #newBackoffRecord(key: string, newSucceeded: KubeObject[], newFailed: KubeObject[]): BackoffRecord {
    const old = this.#backoff.get(key) ?? { failuresAfterLastSuccess: 0 };
    const now = this.#ctx.clock.now();
    if (newSucceeded.length === 0) {
      if (newFailed.length === 0) return { ...old };
      return { failuresAfterLastSuccess: old.failuresAfterLastSuccess + newFailed.length, lastFailureTime: now };
    }
    const lastSuccess = Math.max(...newSucceeded.map(finishedTime));
    const after = newFailed.filter((pod) => finishedTime(pod) > lastSuccess).length;
    return after > 0 ? { failuresAfterLastSuccess: after, lastFailureTime: now } : { failuresAfterLastSuccess: 0 };
  }

  /** `getRemainingTime`: base·2^(n-1) capped, scaled, minus the time since the last failure. */
  #backoffRemaining(record: BackoffRecord): number {
    if (record.failuresAfterLastSuccess === 0 || record.lastFailureTime === undefined) return 0;
    let backoff = this.#env.backoffBaseMs;
    for (let i = 1; i < record.failuresAfterLastSuccess; i++) {
      backoff *= 2;
      if (backoff >= this.#env.backoffMaxMs) {
        backoff = this.#env.backoffMaxMs;
        break;
      }
    }
    return Math.max(0, backoff * this.#ctx.clock.timeScale - (this.#ctx.clock.now() - record.lastFailureTime));
  }

  /** `manageJob`: deletes surplus pods or creates missing ones (after the failure back-off). */
  #manageJob(sync: SyncContext, activeCount: number): { active: number; failed: boolean } {
    const { job } = sync;
    let active = activeCount;
    if (isSuspended(job)) {
      // Finalizers go first: pods removed by a suspend are not failures.
      const { deleted, deletedReady } = this.#deleteJobPods(job, [...sync.activePods].sort(byDeletionPreference));
      sync.terminating += deleted;
      sync.ready -= deletedReady;
      return { active: active - deleted, failed: false };
    }
    const parallelism = Number(job.spec?.parallelism ?? 1);
    const completions = job.spec?.completions;
    let wantActive: number;
    if (completions == null) wantActive = sync.succeeded > 0 ? active : parallelism;
    else wantActive = Math.max(0, Math.min(Number(completions) - sync.succeeded, parallelism));

    const toDelete = this.#activePodsForRemoval(sync, Math.max(0, active - wantActive)).slice(0, maxPodsPerSync);
    if (toDelete.length > 0) {
      // Creations and deletions never happen in the same sync; deletions first.
      const { deleted, deletedReady } = this.#deleteJobPods(job, toDelete);
      sync.terminating += deleted;
      sync.ready -= deletedReady;
      return { active: active - deleted, failed: false };
    }
    const terminating = sync.onlyReplaceFailed ? sync.terminating : 0;
    let diff = wantActive - terminating - active;
    if (diff <= 0) return { active, failed: false };
    const remaining = this.#backoffRemaining(sync.newBackoff);
    if (remaining > 0) {
      this.#env.requeue(sync.key, Math.max(remaining, this.#env.batchDelayMs()));
      // As upstream: the sync that waits out the back-off reports no active pods.
      return { active: 0, failed: false };
    }
    diff = Math.min(diff, maxPodsPerSync);
    let indexes: number[] = [];
    if (isIndexed(job)) {
      indexes = this.#firstPendingIndexes(sync, diff);
      diff = indexes.length;
    }
    active += diff;
    let failed = false;
    // Slow start: batches of 1, 2, 4, ...; a failing batch stops the rest until the next sync.
    for (let batch = Math.min(diff, 1); diff > 0; batch = Math.min(2 * batch, diff)) {
      let batchFailed = false;
      for (let i = 0; i < batch; i++) {
        const outcome = createJobPod(this.#ctx, job, indexes.shift());
        if (outcome === 'failed') {
          active--;
          batchFailed = true;
        }
      }
      diff -= batch;
      if (batchFailed) {
        failed = true;
        active -= diff;
        break;
      }
    }
    return { active, failed };
  }

  /** `firstPendingIndexes`: the lowest indexes neither succeeded nor held by an active pod. */
  #firstPendingIndexes(sync: SyncContext, count: number): number[] {
    const completions = Number(sync.job.spec?.completions ?? 0);
    const taken = new Set(sync.succeededIndexes);
    for (const pod of sync.activePods) {
      const index = completionIndexOf(pod);
      if (index !== undefined) taken.add(index);
    }
    const out: number[] = [];
    for (let i = 0; i < completions && out.length < count; i++) if (!taken.has(i)) out.push(i);
    return out;
  }

  /**
   * `activePodsForRemoval`: for Indexed Jobs every pod with an invalid index and all but one
   * pod per repeated index, then the surplus in `ActivePods` order.
   */
  #activePodsForRemoval(sync: SyncContext, atLeast: number): KubeObject[] {
    const remove: KubeObject[] = [];
    let left = sync.activePods;
    if (isIndexed(sync.job)) {
      const completions = Number(sync.job.spec?.completions ?? 0);
      const byIndex = new Map<number, KubeObject[]>();
      left = [];
      for (const pod of sync.activePods) {
        const index = completionIndexOf(pod);
        if (index === undefined || index >= completions) remove.push(pod);
        else byIndex.set(index, [...(byIndex.get(index) ?? []), pod]);
      }
      for (const group of byIndex.values()) {
        const sorted = group.sort(byDeletionPreference);
        remove.push(...sorted.slice(0, -1));
        left.push(sorted[sorted.length - 1] as KubeObject);
      }
    }
    if (remove.length < atLeast) remove.push(...[...left].sort(byDeletionPreference).slice(0, atLeast - remove.length));
    return remove;
  }

  /** `deleteActivePods`: deletes, keeping the tracking finalizer so the pods are counted (as failed). */
  #deleteActivePods(job: KubeObject, pods: KubeObject[]): { deleted: number; deletedReady: number } {
    for (const pod of pods) deleteJobPod(this.#ctx, job, pod);
    return { deleted: pods.length, deletedReady: pods.filter(isPodReady).length };
  }

  /** `deleteJobPods`: removes the tracking finalizer first, so the pods are not counted at all. */
  #deleteJobPods(job: KubeObject, pods: KubeObject[]): { deleted: number; deletedReady: number } {
    for (const pod of pods) {
      removeTrackingFinalizer(this.#ctx, pod);
      deleteJobPod(this.#ctx, job, pod);
    }
    return { deleted: pods.length, deletedReady: pods.filter(isPodReady).length };
  }

  /** `canRemoveFinalizer`: the Job is going or decided, or the pod is done. */
  #canRemoveFinalizer(sync: SyncContext, pod: KubeObject, considerFailed: boolean): boolean {
    return (
      !!sync.job.metadata.deletionTimestamp ||
      !!sync.finishedCondition ||
      pod.status?.phase === 'Succeeded' ||
      considerFailed
    );
  }

  /**
   * `trackJobStatusAndRemoveFinalizers`: (1) finished pods' uids into `uncountedTerminatedPods`
   * (with any interim condition) — a status write; (2) their finalizers removed; (3) the uids
   * moved into `succeeded`/`failed` and, when nothing is terminating or uncounted any more, the
   * terminal condition — a second status write. Each write is its own watch event.
   */
  #trackJobStatusAndRemoveFinalizers(sync: SyncContext, needsStatusUpdate: boolean): void {
    const { job, status } = sync;
    let needsFlush = needsStatusUpdate;
    const indexed = isIndexed(job);
    const completions = Number(job.spec?.completions ?? 0);
    const withFinalizer = new Set(sync.pods.filter(hasTrackingFinalizer).map((p) => p.metadata.uid));
    if (cleanUncounted(status, withFinalizer)) needsFlush = true;
    const toRemoveFinalizer: KubeObject[] = [];
    const newSucceededIndexes: number[] = [];
    let reachedMaxUncounted = false;
    for (const pod of sync.pods) {
      if (!hasTrackingFinalizer(pod)) continue;
      const uid = pod.metadata.uid;
      const considerFailed = isPodFailed(pod, sync.onlyReplaceFailed);
      if (!this.#canRemoveFinalizer(sync, pod, considerFailed)) continue;
      toRemoveFinalizer.push(pod);
      const index = completionIndexOf(pod);
      if (pod.status?.phase === 'Succeeded' && !sync.uncountedFailed.has(uid)) {
        if (indexed) {
          if (index !== undefined && index < completions && !sync.prevSucceededIndexes.has(index)) {
            newSucceededIndexes.push(index);
            needsFlush = true;
          }
        } else if (!sync.uncountedSucceeded.has(uid)) {
          status.uncounted.succeeded.push(uid);
          needsFlush = true;
        }
      } else if (considerFailed || (sync.finishedCondition && sync.finishedCondition.type !== 'SuccessCriteriaMet')) {
        // Once the Job is decided to fail, every pod not yet terminated counts as failed.
        const policy = job.spec?.podFailurePolicy;
        // A failure an Ignore rule matched loses its finalizer but is never counted.
        const counts = policy == null || matchPodFailurePolicy(policy, pod).countFailed;
        if (!sync.uncountedFailed.has(uid) && (!indexed || (index !== undefined && index < completions)) && counts) {
          status.uncounted.failed.push(uid);
          needsFlush = true;
        }
      }
      if (
        newSucceededIndexes.length + status.uncounted.succeeded.length + status.uncounted.failed.length >=
        maxPodsPerSync
      ) {
        reachedMaxUncounted = true;
        break;
      }
    }
    if (indexed) {
      for (const index of newSucceededIndexes) sync.succeededIndexes.add(index);
      const text = formatIndexes(sync.succeededIndexes);
      if (text !== (status.completedIndexes ?? '')) needsFlush = true;
      status.succeeded = sync.succeededIndexes.size;
      status.completedIndexes = text;
    }
    let finished = sync.finishedCondition;
    if (finished?.type === 'FailureTarget') {
      status.conditions.push(finished);
      needsFlush = true;
      finished = newCondition('Failed', 'True', finished.reason ?? '', finished.message ?? '', this.#now());
    }
    if (finished?.type === 'SuccessCriteriaMet') {
      if (findCondition(status.conditions, 'SuccessCriteriaMet')?.status !== 'True') {
        status.conditions.push(finished);
        needsFlush = true;
      }
      finished = newCondition('Complete', 'True', finished.reason ?? '', finished.message ?? '', this.#now());
    }
    // flushUncountedAndRemoveFinalizers
    if (needsFlush) {
      this.#writeStatus(sync);
      this.#backoff.set(sync.key, sync.newBackoff);
      needsFlush = false;
    }
    for (const pod of toRemoveFinalizer) {
      removeTrackingFinalizer(this.#ctx, pod);
      withFinalizer.delete(pod.metadata.uid);
    }
    if (cleanUncounted(status, withFinalizer)) needsFlush = true;
    const jobFinished = !reachedMaxUncounted && this.#enactJobFinished(sync, finished);
    if (jobFinished) needsFlush = true;
    if (needsFlush) {
      this.#writeStatus(sync);
      if (jobFinished && finished) this.#recordJobFinished(sync, finished);
    }
  }

  /** `enactJobFinished`: the terminal condition, once nothing is uncounted or terminating. */
  #enactJobFinished(sync: SyncContext, finished: JobCondition | undefined): boolean {
    if (!finished) return false;
    const { status } = sync;
    if (status.uncounted.succeeded.length + status.uncounted.failed.length > 0) return false;
    if (sync.terminating > 0) return false;
    ensureCondition(
      status.conditions,
      finished.type,
      'True',
      finished.reason ?? '',
      finished.message ?? '',
      this.#now(),
    );
    if (finished.type === 'Complete') status.completionTime = finished.lastTransitionTime;
    return true;
  }

  #recordJobFinished(sync: SyncContext, finished: JobCondition): void {
    const job = involvedJob(sync.job);
    if (finished.type === 'Complete') {
      const completions = sync.job.spec?.completions;
      if (completions != null && sync.status.succeeded > Number(completions)) {
        recordEvent(
          this.#ctx,
          job,
          'Warning',
          'TooManySucceededPods',
          'Too many succeeded pods running after completion count reached',
          jobControllerSource,
        );
      }
      recordEvent(this.#ctx, job, 'Normal', 'Completed', 'Job completed', jobControllerSource);
    } else {
      recordEvent(this.#ctx, job, 'Warning', finished.reason ?? '', finished.message ?? '', jobControllerSource);
    }
  }

  /** `UpdateStatus` with the Job's resourceVersion as precondition; an unchanged status is no write. */
  #writeStatus(sync: SyncContext): void {
    const status = statusToJson(sync.status);
    if (sameJson(status, sync.job.status ?? {})) return;
    const stored = this.#ctx.store.update(
      'jobs',
      // Only the status is copied (the sync goes on editing the arrays it shares with `sync.status`);
      // the rest is the stored Job's, frozen, and stays shared.
      { ...sync.job, status: structuredClone(status) },
      { expectResourceVersion: sync.job.metadata.resourceVersion, adopt: true },
    );
    if (stored) sync.job = stored;
  }
}

/** `cleanUncountedPodsWithoutFinalizers`: uids whose finalizer is gone move into the counters. */
function cleanUncounted(status: JobStatus, withFinalizer: Set<string>): boolean {
  let updated = false;
  const succeeded = status.uncounted.succeeded.filter((uid) => withFinalizer.has(uid));
  if (succeeded.length !== status.uncounted.succeeded.length) {
    status.succeeded += status.uncounted.succeeded.length - succeeded.length;
    status.uncounted.succeeded = succeeded;
    updated = true;
  }
  const failed = status.uncounted.failed.filter((uid) => withFinalizer.has(uid));
  if (failed.length !== status.uncounted.failed.length) {
    status.failed += status.uncounted.failed.length - failed.length;
    status.uncounted.failed = failed;
    updated = true;
  }
  return updated;
}
