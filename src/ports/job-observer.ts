/*
 * The engine's view of the shared watch: what each task actor observes of its Job. One adapter
 * implements it over client-node's watch (`src/kube/job-watcher.ts`).
 */
import type { ClusterObservation } from '../machines/task/contract.js';

/** Told of a Job's current view, and again on every change to the Job or its pods. */
export type ObservationListener = (observation: ClusterObservation) => void;

/**
 * The Jobs and Pods of ours as the shared watch knows them. `job: null` in an observation means
 * the Job is really gone (deleted, absent from a fresh LIST, or a GET found none), never that a
 * stream ended.
 */
export interface JobObserver {
  /**
   * Calls `listener` with the Job's current view at once (once the watch knows the Job) and on
   * every change to the Job or its pods: the changes of one turn of the event loop once, with the
   * latest view, but the view a Job or pod removal leaves always before it, and a Job's going
   * before a Job of its name appears again. Returns the unsubscribe function.
   */
  observe(jobName: string, listener: ObservationListener): () => void;
  /** The Job's current view, or undefined when the watch has not seen it (present or deleted). */
  current(jobName: string): ClusterObservation | undefined;
  /**
   * Recent Events about the Job and its newest pods, `Reason: message`, oldest first. Read on
   * demand: only failing tasks need them.
   */
  events(jobName: string, signal?: AbortSignal): Promise<string[]>;
  /** Resolves once the watch has listed Jobs and Pods; rejects if that failed for good or it was stopped. */
  ready(): Promise<void>;
  /**
   * A Job of this name now exists (our create succeeded or adopted): a remembered deletion of an
   * earlier Job of that name must not be reported as the new Job's view.
   */
  created(jobName: string): void;
}

/**
 * Where the watch stands: `connected` while every stream it needs is open (its request answered by
 * the API server); `reconnecting` from the moment one of them ended, failed or was found stalled
 * (and before the first connection) until it is open again; `stopped` before `start()` and after
 * `stop()`.
 */
export type WatchState = 'connected' | 'reconnecting' | 'stopped';

/** The watch's health as its owner reads it (plain data, epoch ms). */
export interface WatchHealth {
  state: WatchState;
  /** When the watch entered `state` (epoch ms). */
  since: number;
  /** When a stream last delivered something (an event or a bookmark), if ever (epoch ms). */
  lastEventAt?: number;
}

/** The observer as its owner (the runner) holds it: started before any task runs, stopped on shutdown. */
export interface ManagedJobObserver extends JobObserver {
  /** Starts watching (once); resolves like `ready()`. */
  start(): Promise<void>;
  /** Stops watching; listeners are told nothing more. */
  stop(): Promise<void>;
  /** The watch's state now, since when, and when it last heard from the API server. */
  health(): WatchHealth;
}
