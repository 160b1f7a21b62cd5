import type { V1Job, V1Pod } from '@kubernetes/client-node';
import type { ClusterObservation, JobView, PodView } from '../machines/task/contract.js';
import type { ObservationListener } from '../ports/job-observer.js';
import { OldestFirstMap } from '../collections/oldest-first-map.js';
import { jobNameOfPod, toJobView, toPodView } from './views.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface WatchCacheOptions {
  /** Epoch ms for `ClusterObservation.at`. */
  now: () => number;
  /** Deleted Jobs remembered (so late observers still learn they are gone). */
  tombstoneLimit: number;
  /** A listener threw: reported, never allowed to break the watch. */
  onListenerError: (jobName: string, error: unknown) => void;
}

/** A pod as the cache keeps it: its view, and what tells a change. */
interface PodEntry {
  view: PodView;
  resourceVersion: string | undefined;
  /** The view as JSON: a pod event that leaves it unchanged (a condition the engine does not read) tells nobody. */
  json: string;
}

function podEntry(pod: V1Pod): PodEntry {
  const view = toPodView(pod);
  return { view, resourceVersion: pod.metadata?.resourceVersion, json: JSON.stringify(view) };
}

/**
 * What the shared watch knows: Jobs by name, their Pods (by the Job controller's job-name label),
 * Jobs seen deleted, and who observes which Job. Listeners are told of every change to a Job or
 * its pods that changes the view (a Job event always does: its `resourceVersion` is in it; a pod
 * event that changes nothing the pod's view holds tells nobody), but only once the cache is
 * `live` (both first LISTs are in): before that, an absent Job could just be not listed yet.
 *
 * A Job's changes in one turn of the event loop are told once, with its latest view, right after
 * that turn's I/O (`setImmediate`): the Jobs and Pods watches deliver a Job's status and its pod's
 * several updates as separate events, often in the same turn, and each view told is a step of the
 * task's machine. Measured in `bench/engine-split.ts` (cap 100): 3.3 views told per task instead
 * of 4.4; in 7 runs alternating with the code before (this and a cheaper `sleep`), the runner's
 * CPU per lifecycle in its second round (compiled) 2.53 ms instead of 2.82 (medians), in its
 * first within the noise. A later view holds everything an earlier one showed while the Job and
 * its pods exist (their status only grows more final), so only a removal could lose something:
 * before a Job or a pod is removed (a DELETED event, a relist, a GET's 404), the view it is about
 * to leave is told first, and so is a Job's removal before a Job of that name appears again.
 *
 * Objects are kept as the views the engine reads, made once per event, not as client-node
 * models: the cache holds a few fields per Job and pod, and an observation is put together from
 * them without translating anything again.
 */
export class WatchCache {
  readonly #jobs = new Map<string, JobView>();
  /** Job name → pod name → pod. */
  readonly #pods = new Map<string, Map<string, PodEntry>>();
  /** Jobs seen deleted, oldest deletion first (bounded). */
  readonly #gone = new OldestFirstMap<string, true>();
  readonly #listeners = new Map<string, Set<ObservationListener>>();
  /** Observed Jobs changed in this turn, to be told once it ends (see the class's comment). */
  readonly #changed = new Set<string>();
  #live = false;
  #closed = false;

  constructor(private readonly options: WatchCacheOptions) {}

  get live(): boolean {
    return this.#live;
  }

  /** Both first LISTs are in: tell every observer of a known Job. */
  goLive(): void {
    if (this.#live) return;
    this.#live = true;
    for (const jobName of this.#listeners.keys()) this.#notify(jobName);
  }

  /** The watch stopped: nothing more is told, not even the changes of this turn not told yet. */
  close(): void {
    this.#closed = true;
    this.#changed.clear();
  }

  /** Whether the cache has seen the Job, present or deleted. */
  knows(jobName: string): boolean {
    return this.#jobs.has(jobName) || this.#gone.has(jobName);
  }

  /** The Job's view, or undefined when it has not been seen (present or deleted). */
  current(jobName: string): ClusterObservation | undefined {
    if (!this.knows(jobName)) return undefined;
    const job = this.#jobs.get(jobName) ?? null;
    const entries = this.#pods.get(jobName);
    const pods: PodView[] = [];
    if (entries) for (const entry of entries.values()) pods.push(entry.view);
    if (pods.length > 1) pods.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.name.localeCompare(b.name));
    return { job, pods, at: this.options.now() };
  }

  /** Names of the Job's newest pods (newest first). */
  newestPodNames(jobName: string, count: number): string[] {
    const created = (entry: PodEntry): number => Date.parse(entry.view.createdAt) || 0;
    return [...(this.#pods.get(jobName)?.values() ?? [])]
      .sort((a, b) => created(b) - created(a))
      .slice(0, count)
      .map((entry) => entry.view.name);
  }

  /** Adds a listener, called at once when the cache is live and knows the Job. Returns its removal. */
  observe(jobName: string, listener: ObservationListener): () => void {
    let set = this.#listeners.get(jobName);
    if (!set) {
      set = new Set();
      this.#listeners.set(jobName, set);
    }
    set.add(listener);
    const observation = this.#live ? this.current(jobName) : undefined;
    if (observation) this.#call(jobName, listener, observation);
    return () => {
      const listeners = this.#listeners.get(jobName);
      if (listeners?.delete(listener) && listeners.size === 0) this.#listeners.delete(jobName);
    };
  }

  isObserved(jobName: string): boolean {
    return this.#listeners.has(jobName);
  }

  observedJobs(): string[] {
    return [...this.#listeners.keys()];
  }

  applyJob(type: WatchEventType, job: V1Job): void {
    const name = job.metadata?.name;
    if (!name) return;
    if (type === 'DELETED') {
      this.#tellNow(name);
      this.#tombstone(name);
    } else {
      // The same resourceVersion again (a replayed event) is no change.
      const known = this.#jobs.get(name);
      if (known && known.resourceVersion !== '' && known.resourceVersion === job.metadata?.resourceVersion) return;
      // A Job of this name again after it went: that it went is told first, as any removal.
      if (this.#gone.has(name)) this.#tellNow(name);
      this.#jobs.set(name, toJobView(job));
      this.#gone.delete(name);
    }
    this.#notify(name);
  }

  applyPod(type: WatchEventType, pod: V1Pod): void {
    const jobName = jobNameOfPod(pod);
    const name = pod.metadata?.name;
    if (!jobName || !name) return;
    if (type === 'DELETED') {
      const pods = this.#pods.get(jobName);
      if (!pods?.has(name)) return;
      this.#tellNow(jobName);
      pods.delete(name);
      if (pods.size === 0) this.#pods.delete(jobName);
    } else {
      let pods = this.#pods.get(jobName);
      if (!pods) {
        pods = new Map();
        this.#pods.set(jobName, pods);
      }
      const entry = podEntry(pod);
      const known = pods.get(name);
      pods.set(name, entry);
      if (known?.json === entry.json) return;
    }
    this.#notify(jobName);
  }

  /** The Job is gone for sure (a GET answered 404). */
  markGone(jobName: string): void {
    this.#tellNow(jobName);
    this.#tombstone(jobName);
    this.#notify(jobName);
  }

  /** A Job of this name was just created: a tombstone of an earlier one must not be reported as its view. */
  forgetGone(jobName: string): void {
    this.#gone.delete(jobName);
  }

  /** A fresh LIST replaces the Jobs: those missing from it are gone, changed ones are reported. */
  replaceJobs(items: V1Job[]): void {
    this.#tellChanged();
    const fresh = new Map<string, V1Job>();
    for (const job of items) if (job.metadata?.name) fresh.set(job.metadata.name, job);
    for (const name of [...this.#jobs.keys()]) {
      if (fresh.has(name)) continue;
      this.#tombstone(name);
      this.#notify(name);
    }
    for (const [name, job] of fresh) {
      if (this.#jobs.get(name)?.resourceVersion === job.metadata?.resourceVersion) continue;
      this.#jobs.set(name, toJobView(job));
      this.#gone.delete(name);
      this.#notify(name);
    }
  }

  /** A fresh LIST replaces the Pods; the Jobs whose pods changed are reported. */
  replacePods(items: V1Pod[]): void {
    this.#tellChanged();
    const fresh = new Map<string, Map<string, PodEntry>>();
    for (const pod of items) {
      const jobName = jobNameOfPod(pod);
      const name = pod.metadata?.name;
      if (!jobName || !name) continue;
      let pods = fresh.get(jobName);
      if (!pods) {
        pods = new Map();
        fresh.set(jobName, pods);
      }
      pods.set(name, podEntry(pod));
    }
    const changed = new Set<string>();
    for (const [jobName, pods] of this.#pods) {
      for (const [name, entry] of pods)
        if (fresh.get(jobName)?.get(name)?.resourceVersion !== entry.resourceVersion) changed.add(jobName);
    }
    for (const [jobName, pods] of fresh) {
      for (const name of pods.keys()) if (!this.#pods.get(jobName)?.has(name)) changed.add(jobName);
    }
    this.#pods.clear();
    for (const [jobName, pods] of fresh) this.#pods.set(jobName, pods);
    for (const jobName of changed) this.#notify(jobName);
  }

  size(): { jobs: number; pods: number; observedJobs: number } {
    let pods = 0;
    for (const set of this.#pods.values()) pods += set.size;
    return { jobs: this.#jobs.size, pods, observedJobs: this.#listeners.size };
  }

  #tombstone(name: string): void {
    this.#jobs.delete(name);
    this.#gone.set(name, true);
    // Bounded memory: forget the oldest deletions nobody is observing; one still observed is kept,
    // as the newest. (A walk from the front per deletion cost 6 µs at 10,000: see OldestFirstMap.)
    for (let tries = this.#gone.size; this.#gone.size > this.options.tombstoneLimit && tries > 0; tries--) {
      const [oldest] = this.#gone.oldest() ?? [];
      if (oldest === undefined) break;
      if (this.#listeners.has(oldest)) this.#gone.set(oldest, true);
      else this.#gone.delete(oldest);
    }
  }

  /** The Job's view changed: its observers are told once this turn ends. */
  #notify(jobName: string): void {
    if (!this.#live || this.#closed || !this.#listeners.has(jobName)) return;
    if (this.#changed.size === 0) setImmediate(() => this.#tellChanged());
    this.#changed.add(jobName);
  }

  /** Tells the observers of every Job changed since the last time. */
  #tellChanged(): void {
    const names = [...this.#changed];
    this.#changed.clear();
    for (const name of names) this.#tell(name);
  }

  /** Something of the Job is about to be removed: a change not yet told is told now, before it goes. */
  #tellNow(jobName: string): void {
    if (this.#changed.delete(jobName)) this.#tell(jobName);
  }

  #tell(jobName: string): void {
    const listeners = this.#listeners.get(jobName);
    if (!listeners) return;
    const observation = this.current(jobName);
    if (!observation) return;
    for (const listener of [...listeners]) this.#call(jobName, listener, observation);
  }

  #call(jobName: string, listener: ObservationListener, observation: ClusterObservation): void {
    try {
      listener(observation);
    } catch (error) {
      // A subscriber's bug must not stop the shared watch; it is reported, not swallowed.
      this.options.onListenerError(jobName, error);
    }
  }
}
