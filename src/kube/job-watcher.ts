import type { CoreV1Event, V1Job, V1Pod } from '@kubernetes/client-node';
import { KubernetesApiError } from '../errors.js';
import { managedBySelector } from '../jobs/labels.js';
import type { ClusterObservation } from '../machines/task/contract.js';
import type { ManagedJobObserver, ObservationListener, WatchHealth, WatchState } from '../ports/job-observer.js';
import { fullJitterMs } from '../time/backoff.js';
import { sleep as realSleep, type Sleep } from '../time/sleep.js';
import { isTransientStatus, toKubernetesApiError } from './api-errors.js';
import type { KubeApi } from './kube-api.js';
import type { KubeClient } from './kube-client.js';
import type { WatchedResource, WatcherEvent } from './telemetry.js';
import { WatchCache } from './watch-cache.js';

export interface JobWatcherOptions {
  client: KubeClient;
  /** LISTs, GETs and Events go through the API's calls (rate limit, retries). */
  api: KubeApi;
  /** Asked of the server; it ends each watch cleanly after this long. @default 300 */
  timeoutSeconds?: number;
  /** A stream silent for `timeoutSeconds` plus this is presumed dead and restarted. @default 30000 */
  stallGraceMs?: number;
  /** Back-off between reconnects after failures (full jitter). @default { baseMs: 250, maxMs: 30000 } */
  reconnect?: { baseMs?: number; maxMs?: number };
  /** A stream that lived this long, or delivered an event, was healthy: the back-off starts over. @default 5000 */
  healthyStreamMs?: number;
  /**
   * An observed Job the watch has not shown after this long is looked up with a GET; only a 404
   * then reports it gone. @default 5000
   */
  unseenJobCheckMs?: number;
  /** Deleted Jobs remembered (so late observers still learn they are gone). @default 10000 */
  tombstoneLimit?: number;
  /** Epoch ms for `ClusterObservation.at`. @default Date.now */
  now?: () => number;
  sleep?: Sleep;
  random?: () => number;
  /** Told of everything the watcher does (metrics, logs); must not throw. */
  onEvent?: (event: WatcherEvent) => void;
}

/** Counters for metrics. */
export interface JobWatcherStats {
  lists: number;
  /** LISTs after the first one (410 Gone, or a LIST that failed before). */
  relists: number;
  reconnects: number;
  stalls: number;
  watchEvents: number;
  bookmarks: number;
  jobs: number;
  pods: number;
  observedJobs: number;
}

/**
 * How one watch stream ended. `healthy`: it delivered something or lived long enough, so the
 * server is fine and the back-off starts over.
 */
type StreamEnd =
  { type: 'expired'; healthy: boolean } | { type: 'closed'; healthy: boolean; error?: KubernetesApiError };

interface ResourceState {
  /** Where the next watch resumes; undefined = LIST first. */
  resourceVersion: string | undefined;
  listed: boolean;
  /** A watch stream is open: its request was answered and it has not ended (nor been abandoned). */
  open: boolean;
}

const paths = (namespace: string): Record<WatchedResource, string> => ({
  jobs: `/apis/batch/v1/namespaces/${namespace}/jobs`,
  pods: `/api/v1/namespaces/${namespace}/pods`,
});

/** What `ready()` and `start()` reject with once the watcher was stopped. */
const stoppedError = (): KubernetesApiError =>
  new KubernetesApiError('watch', 'jobs', 0, 'Stopped', 'the watcher was stopped', false);

function eventTime(event: CoreV1Event): number {
  const at = event.lastTimestamp ?? event.eventTime ?? event.firstTimestamp ?? event.metadata?.creationTimestamp;
  return at ? new Date(at).getTime() : 0;
}

/**
 * The one shared watch of a runner: Jobs and Pods labelled `app.kubernetes.io/managed-by=k8s-jobs`
 * in its namespace, LIST then WATCH each, driven by hand over client-node's `Watch` (see
 * docs/decisions/002-own-list-watch-loop.md):
 * - resumes from the last resourceVersion (bookmarks move it), so a dropped stream loses and
 *   repeats nothing;
 * - on 410 Gone (an ERROR event or an HTTP 410) relists, and Jobs missing from the fresh LIST are
 *   reported gone;
 * - on any other error or close reconnects with capped exponential back-off and jitter;
 * - a stream silent for longer than `timeoutSeconds + stallGraceMs` is aborted and restarted.
 *
 * Task actors `observe(jobName, listener)`: the listener gets the current view at once (once the
 * watcher knows the Job) and again on every change to the Job or its pods (once per turn of the
 * event loop, with the latest view: see `WatchCache`). `job: null` means the Job is really gone
 * (a DELETED event, absence from a fresh LIST, or a GET 404), never that a stream ended.
 *
 * @example
 * ```ts
 * const watcher = new JobWatcher({ client, api });
 * await watcher.start();
 * const stop = watcher.observe('my-job', (o) => console.log(o.job?.conditions));
 * ```
 */
export class JobWatcher implements ManagedJobObserver {
  readonly #client: KubeClient;
  readonly #api: KubeApi;
  readonly #timeoutSeconds: number;
  readonly #stallGraceMs: number;
  readonly #reconnectBaseMs: number;
  readonly #reconnectMaxMs: number;
  readonly #healthyStreamMs: number;
  readonly #unseenJobCheckMs: number;
  readonly #sleep: Sleep;
  readonly #random: () => number;
  readonly #onEvent: (event: WatcherEvent) => void;

  readonly #cache: WatchCache;
  readonly #unseenChecks = new Map<string, NodeJS.Timeout>();
  readonly #state: Record<WatchedResource, ResourceState> = {
    jobs: { resourceVersion: undefined, listed: false, open: false },
    pods: { resourceVersion: undefined, listed: false, open: false },
  };
  readonly #stats = { lists: 0, relists: 0, reconnects: 0, stalls: 0, watchEvents: 0, bookmarks: 0 };
  readonly #abort = new AbortController();
  readonly #readyWaiters: { resolve: () => void; reject: (err: unknown) => void }[] = [];
  readonly #now: () => number;
  #initialError: Error | undefined;
  #loops: Promise<void>[] | undefined;
  /** What `health()` reports: changed only by `#updateHealth`. */
  #health: { state: WatchState; since: number };
  #lastEventAt: number | undefined;

  constructor(options: JobWatcherOptions) {
    this.#client = options.client;
    this.#api = options.api;
    this.#timeoutSeconds = options.timeoutSeconds ?? 300;
    this.#stallGraceMs = options.stallGraceMs ?? 30_000;
    this.#reconnectBaseMs = options.reconnect?.baseMs ?? 250;
    this.#reconnectMaxMs = options.reconnect?.maxMs ?? 30_000;
    this.#healthyStreamMs = options.healthyStreamMs ?? 5000;
    this.#unseenJobCheckMs = options.unseenJobCheckMs ?? 5000;
    this.#sleep = options.sleep ?? realSleep;
    this.#random = options.random ?? Math.random;
    this.#onEvent = options.onEvent ?? (() => undefined);
    this.#now = options.now ?? Date.now;
    this.#health = { state: 'stopped', since: this.#now() };
    this.#cache = new WatchCache({
      now: this.#now,
      tombstoneLimit: options.tombstoneLimit ?? 10_000,
      onListenerError: (jobName, error) => this.#onEvent({ type: 'listener-error', jobName, error }),
    });
  }

  /** Starts both LIST+WATCH loops (once); resolves like `ready()`. */
  start(): Promise<void> {
    if (this.#abort.signal.aborted) return Promise.reject(stoppedError());
    if (!this.#loops) {
      this.#loops = (['jobs', 'pods'] as const).map((resource) => this.#run(resource));
      this.#updateHealth();
    }
    return this.ready();
  }

  /**
   * Resolves once the first LIST of Jobs and of Pods is in the cache. Rejects if that first LIST
   * failed for good (e.g. 403: the runner may not list Jobs), or when the watcher is stopped first.
   */
  ready(): Promise<void> {
    if (this.#isReady()) return Promise.resolve();
    if (this.#initialError !== undefined) return Promise.reject(this.#initialError);
    if (this.#abort.signal.aborted) return Promise.reject(stoppedError());
    return new Promise((resolve, reject) => this.#readyWaiters.push({ resolve, reject }));
  }

  /** Stops both loops and every timer; listeners get nothing more. */
  async stop(): Promise<void> {
    if (this.#abort.signal.aborted) return;
    this.#abort.abort();
    this.#cache.close();
    this.#updateHealth();
    for (const timer of this.#unseenChecks.values()) clearTimeout(timer);
    this.#unseenChecks.clear();
    for (const waiter of this.#readyWaiters.splice(0)) waiter.reject(stoppedError());
    await Promise.all(this.#loops ?? []);
  }

  /**
   * Calls `listener` with the Job's current view at once (if the watcher knows the Job) and on
   * every change to the Job or its pods (once per turn, see `WatchCache`). Returns the
   * unsubscribe function.
   */
  observe(jobName: string, listener: ObservationListener): () => void {
    const remove = this.#cache.observe(jobName, listener);
    if (this.#cache.live && !this.#cache.knows(jobName)) this.#checkUnseen(jobName);
    return () => {
      remove();
      if (this.#cache.isObserved(jobName)) return;
      clearTimeout(this.#unseenChecks.get(jobName));
      this.#unseenChecks.delete(jobName);
    };
  }

  /**
   * Tells the watcher a Job of this name now exists (our create succeeded or adopted): a remembered
   * deletion of an earlier Job of the same name (a task re-created after its Job vanished) must
   * not be reported as the new Job's view before the watch delivers it.
   */
  created(jobName: string): void {
    this.#cache.forgetGone(jobName);
  }

  /** The Job's current view, or undefined when the watcher has not seen it (present or deleted). */
  current(jobName: string): ClusterObservation | undefined {
    return this.#cache.current(jobName);
  }

  /**
   * Recent Events about the Job and its newest pods, `Reason: message`, oldest first (at most
   * `limit`). Fetched on demand (one LIST per object): only failing tasks need them.
   */
  async events(jobName: string, signal?: AbortSignal, limit = 20): Promise<string[]> {
    const names = [jobName, ...this.#cache.newestPodNames(jobName, 3)];
    const lists = await Promise.all(names.map((name) => this.#api.listEvents(name, signal)));
    return lists
      .flat()
      .sort((a, b) => eventTime(a) - eventTime(b))
      .map((e) => `${e.reason ?? ''}: ${e.message ?? ''}`)
      .slice(-limit);
  }

  stats(): JobWatcherStats {
    return { ...this.#stats, ...this.#cache.size() };
  }

  /**
   * `connected` while both streams (Jobs and Pods) are open; `reconnecting` from the moment one
   * ended, failed or was abandoned as stalled (and from `start()` until both first open) until it
   * is open again; `stopped` before `start()` and after `stop()`. A stalled stream counts as open
   * until the watchdog gives up on it (`timeoutSeconds + stallGraceMs` after it last spoke).
   */
  health(): WatchHealth {
    const { state, since } = this.#health;
    return { state, since, ...(this.#lastEventAt !== undefined ? { lastEventAt: this.#lastEventAt } : {}) };
  }

  #updateHealth(): void {
    const state: WatchState =
      this.#abort.signal.aborted || !this.#loops
        ? 'stopped'
        : this.#state.jobs.open && this.#state.pods.open
          ? 'connected'
          : 'reconnecting';
    if (state !== this.#health.state) this.#health = { state, since: this.#now() };
  }

  #setOpen(resource: WatchedResource, open: boolean): void {
    this.#state[resource].open = open;
    this.#updateHealth();
  }

  #isReady(): boolean {
    return this.#state.jobs.listed && this.#state.pods.listed;
  }

  /** One resource's LIST+WATCH loop; runs until `stop()`. */
  async #run(resource: WatchedResource): Promise<void> {
    const signal = this.#abort.signal;
    const state = this.#state[resource];
    let failures = 0;
    while (!signal.aborted) {
      let error: KubernetesApiError | undefined;
      try {
        if (state.resourceVersion === undefined) await this.#list(resource);
        const end = await this.#watchOnce(resource);
        if (end.type === 'expired') {
          state.resourceVersion = undefined;
          this.#onEvent({ type: 'expired', resource });
        } else error = end.error;
        // After a healthy stream: at once on a clean end, after a short jittered pause on an
        // error (a dropped connection); otherwise the back-off keeps growing.
        failures = end.healthy ? (end.type === 'closed' && !end.error ? 0 : 1) : failures + 1;
      } catch (err) {
        if (signal.aborted) break;
        error = toKubernetesApiError(err, 'list', resource);
        if (!state.listed && !error.transient) {
          this.#initialError = error;
          for (const waiter of this.#readyWaiters.splice(0)) waiter.reject(error);
        }
        failures += 1;
      }
      if (signal.aborted) break;
      const delayMs =
        failures === 0 ? 0 : fullJitterMs(failures, this.#reconnectBaseMs, this.#reconnectMaxMs, this.#random);
      this.#stats.reconnects += 1;
      this.#onEvent({ type: 'reconnecting', resource, delayMs, error });
      try {
        if (delayMs > 0) await this.#sleep(delayMs, signal);
      } catch (err) {
        if (signal.aborted) break;
        throw err;
      }
    }
  }

  async #list(resource: WatchedResource): Promise<void> {
    const signal = this.#abort.signal;
    const state = this.#state[resource];
    const list = resource === 'jobs' ? await this.#api.listJobs(signal) : await this.#api.listPods(signal);
    if (signal.aborted) return;
    if (state.listed) this.#stats.relists += 1;
    this.#stats.lists += 1;
    if (resource === 'jobs') this.#cache.replaceJobs(list.items as V1Job[]);
    else this.#cache.replacePods(list.items as V1Pod[]);
    state.resourceVersion = list.resourceVersion;
    this.#onEvent({ type: 'listed', resource, items: list.items.length, resourceVersion: list.resourceVersion });
    if (!state.listed) {
      state.listed = true;
      if (this.#isReady()) this.#becameReady();
    }
  }

  #becameReady(): void {
    this.#initialError = undefined;
    for (const waiter of this.#readyWaiters.splice(0)) waiter.resolve();
    this.#cache.goLive();
    for (const jobName of this.#cache.observedJobs()) if (!this.#cache.knows(jobName)) this.#checkUnseen(jobName);
  }

  /**
   * One WATCH from the current resourceVersion, until the stream ends: cleanly, with an error
   * (HTTP status, failed connection, dropped stream, ERROR event), silent too long (stall), or
   * with 410 Gone (`expired`: as an ERROR event or as the HTTP status).
   */
  async #watchOnce(resource: WatchedResource): Promise<StreamEnd> {
    const signal = this.#abort.signal;
    const state = this.#state[resource];
    await this.#api.policy.limiter.acquire(signal);
    // Stopped while the token was on its way: no watch may open after stop() (its 'abort' listener,
    // added below, would never run).
    if (signal.aborted) return { type: 'closed', healthy: true };
    const startedAt = performance.now();
    let delivered = 0;
    return new Promise<StreamEnd>((resolve) => {
      let settled = false;
      let controller: AbortController | undefined;
      let watchdog: NodeJS.Timeout | undefined;
      const healthy = (): boolean => delivered > 0 || performance.now() - startedAt >= this.#healthyStreamMs;
      const settle = (end: StreamEnd | KubernetesApiError): void => {
        if (settled) return;
        settled = true;
        this.#setOpen(resource, false);
        clearTimeout(watchdog);
        signal.removeEventListener('abort', onStop);
        controller?.abort();
        if (!(end instanceof KubernetesApiError)) resolve(end);
        else if (end.statusCode === 410) resolve({ type: 'expired', healthy: healthy() });
        else resolve({ type: 'closed', healthy: healthy(), error: end });
      };
      const onStop = (): void => settle({ type: 'closed', healthy: true });
      // The watchdog also covers a server that never answers the request: client-node only hands
      // out the stream's AbortController once headers arrive, so a late one is aborted on arrival.
      const arm = (): void => {
        clearTimeout(watchdog);
        watchdog = setTimeout(
          () => {
            this.#stats.stalls += 1;
            this.#onEvent({ type: 'stalled', resource });
            settle({ type: 'closed', healthy: false });
          },
          this.#timeoutSeconds * 1000 + this.#stallGraceMs,
        );
      };
      signal.addEventListener('abort', onStop, { once: true });
      arm();
      const onEvent = (type: string, object: unknown): void => {
        if (settled) return;
        arm();
        if (type === 'ERROR') {
          const status = (object ?? {}) as { code?: number; reason?: string; message?: string };
          const code = typeof status.code === 'number' ? status.code : 500;
          if (code === 410) settle({ type: 'expired', healthy: healthy() });
          else
            settle(
              new KubernetesApiError(
                'watch',
                resource,
                code,
                status.reason,
                status.message ?? 'watch error event',
                isTransientStatus(code),
              ),
            );
          return;
        }
        delivered += 1;
        this.#lastEventAt = this.#now();
        const rv = (object as { metadata?: { resourceVersion?: string } } | undefined)?.metadata?.resourceVersion;
        if (type === 'BOOKMARK') {
          this.#stats.bookmarks += 1;
        } else if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') {
          this.#stats.watchEvents += 1;
          if (resource === 'jobs') this.#cache.applyJob(type, object as V1Job);
          else this.#cache.applyPod(type, object as V1Pod);
        } else return;
        if (rv) state.resourceVersion = rv;
      };
      this.#client.watch
        .watch(
          paths(this.#client.namespace)[resource],
          {
            labelSelector: managedBySelector,
            resourceVersion: state.resourceVersion,
            allowWatchBookmarks: true,
            timeoutSeconds: this.#timeoutSeconds,
          },
          onEvent,
          (err: unknown) =>
            settle(err ? toKubernetesApiError(err, 'watch', resource) : { type: 'closed', healthy: healthy() }),
        )
        .then(
          (ctl) => {
            controller = ctl;
            if (settled) ctl.abort();
            else this.#setOpen(resource, true);
          },
          (err: unknown) => settle(toKubernetesApiError(err, 'watch', resource)),
        );
    });
  }

  /**
   * An observed Job the watch has not shown: after `unseenJobCheckMs` a GET decides. A 404 makes
   * it gone (it was deleted before the watch could show it); a Job that exists is left to the
   * watch (it is only behind) and checked again later.
   */
  #checkUnseen(jobName: string): void {
    if (this.#unseenChecks.has(jobName) || this.#abort.signal.aborted) return;
    const timer = setTimeout(() => {
      this.#unseenChecks.delete(jobName);
      if (!this.#cache.isObserved(jobName) || this.#cache.knows(jobName)) return;
      this.#api.getJob(jobName, this.#abort.signal).then(
        (job) => {
          if (!this.#cache.isObserved(jobName) || this.#cache.knows(jobName)) return;
          if (job) this.#checkUnseen(jobName);
          else this.#cache.markGone(jobName);
        },
        (error: unknown) => {
          if (this.#abort.signal.aborted) return;
          this.#onEvent({ type: 'lookup-failed', jobName, error });
          this.#checkUnseen(jobName);
        },
      );
    }, this.#unseenJobCheckMs);
    this.#unseenChecks.set(jobName, timer);
  }
}
