import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { KubeTelemetryEvent } from '../kube/telemetry.js';
import { ValidationError } from '../errors.js';
import type { StoreSize } from '../store/contract.js';
import { taskStates, type TaskOutcome, type TaskRecord, type TaskState, type Transition } from '../types.js';

/** Where the runner's Prometheus metrics go. */
export interface MetricsOptions {
  /**
   * The registry to register the metrics in (e.g. prom-client's global `register`, to serve them
   * with the app's own). Two runners need separate registries or distinct prefixes.
   * @default a new `Registry` per runner
   */
  registry?: Registry;
  /** Prefix of every metric name. @default 'k8s_jobs_' */
  prefix?: string;
}

/** What the metrics read at scrape time. */
export interface MetricsSources {
  /** Every task the runner knows, with its current state. */
  tasks(): Iterable<TaskRecord>;
  /** Tasks waiting for a free slot. */
  queueDepth(): number;
  /** The store's size (`TaskStore.size`); omitted, the store gauges have no sample. */
  storeSize?(): Promise<StoreSize>;
}

/** The `code` label of a request that succeeded (client-node does not expose which 2xx it was). */
const okCode = '2xx';
/**
 * The `code` label of a request that got no HTTP answer (network error, per-attempt timeout), as client-go labels it.
 */
const noResponseCode = '<error>';

const seconds = (ms: number): number => Math.max(0, ms) / 1000;

/** Every metric's name after the prefix. */
const metricNames = [
  'tasks',
  'queue_depth',
  'task_transitions_total',
  'tasks_waiting',
  'task_retries_total',
  'task_queue_wait_seconds',
  'task_run_duration_seconds',
  'kube_api_requests_total',
  'kube_api_request_duration_seconds',
  'kube_api_errors_total',
  'kube_api_retries_total',
  'kube_api_throttle_wait_seconds',
  'watch_reconnects_total',
  'watch_relists_total',
  'orphan_jobs_total',
  'purged_tasks_total',
  'store_size_bytes',
  'store_free_bytes',
  'leader',
  'leader_changes_total',
] as const;

/**
 * The runner's Prometheus metrics (prom-client), fed by its transitions and by the Kubernetes
 * telemetry of its effects. Gauges are computed when scraped, so they are never stale.
 */
export class RunnerMetrics {
  /** The registry holding these metrics: serve it (`await registry.metrics()`) or merge it. */
  readonly registry: Registry;
  readonly #transitions: Counter<'from' | 'to'>;
  readonly #retriesByReason: Counter<'reason' | 'action'>;
  readonly #queueWait: Histogram;
  readonly #runDuration: Histogram<'outcome'>;
  readonly #requests: Counter<'verb' | 'resource' | 'code'>;
  readonly #requestDuration: Histogram<'verb' | 'resource'>;
  readonly #errors: Counter<'verb' | 'code'>;
  readonly #retries: Counter<'verb'>;
  readonly #throttleWait: Histogram;
  readonly #reconnects: Counter<'resource'>;
  readonly #relists: Counter<'resource'>;
  readonly #orphans: Counter<'action'>;
  readonly #purged: Counter<'outcome'>;
  readonly #leader: Gauge;
  readonly #leaderChanges: Counter;
  /** When each open task entered `queued` / `running` (epoch ms), for the two durations. */
  readonly #queuedAt = new Map<string, number>();
  readonly #runningAt = new Map<string, number>();
  /** Resources listed once already: a later LIST is a relist. */
  readonly #listed = new Set<string>();

  /** Throws `ValidationError` (`metrics.prefix`) when the registry already holds one of these names. */
  constructor(sources: MetricsSources, options: MetricsOptions = {}) {
    const registry = options.registry ?? new Registry();
    const prefix = options.prefix ?? 'k8s_jobs_';
    // Checked before registering any, so a refused runner leaves the app's registry as it was.
    const taken = metricNames
      .map((n) => `${prefix}${n}`)
      .filter((name) => registry.getSingleMetric(name) !== undefined);
    if (taken.length > 0) {
      throw new ValidationError(
        [
          {
            field: 'metrics.prefix',
            rule: `the registry already has ${taken.join(', ')} (another runner's?): give each runner its own prefix or registry`,
          },
        ],
        'runner options',
      );
    }
    const registers = [registry];
    this.registry = registry;
    new Gauge({
      name: `${prefix}tasks`,
      help: "Tasks in the runner's memory (open ones and up to 1,000 recently finished), by state.",
      labelNames: ['state'],
      registers,
      collect() {
        const counts = new Map<TaskState, number>(taskStates.map((s) => [s, 0]));
        for (const { state } of sources.tasks()) counts.set(state, (counts.get(state) ?? 0) + 1);
        for (const [state, count] of counts) this.set({ state }, count);
      },
    });
    new Gauge({
      name: `${prefix}queue_depth`,
      help: 'Tasks queued, waiting for a free slot (maxConcurrentJobs).',
      registers,
      collect() {
        this.set(sources.queueDepth());
      },
    });
    new Gauge({
      name: `${prefix}tasks_waiting`,
      help: "Tasks queued again and waiting, by why: 'quota' (a ResourceQuota had no room) or 'retry' (a retry's back-off).",
      labelNames: ['reason'],
      registers,
      collect() {
        let quota = 0;
        let retry = 0;
        for (const t of sources.tasks()) {
          if (t.state !== 'queued' || t.waitingUntil === undefined) continue;
          if (t.waitingFor === 'quota') quota++;
          else retry++;
        }
        this.set({ reason: 'quota' }, quota);
        this.set({ reason: 'retry' }, retry);
      },
    });
    this.#retriesByReason = new Counter({
      name: `${prefix}task_retries_total`,
      help: "Task retries and quota waits, by reason ('quota', 'disruption', 'imagePull', 'oomKilled') and action.",
      labelNames: ['reason', 'action'],
      registers,
    });
    this.#transitions = new Counter({
      name: `${prefix}task_transitions_total`,
      help: 'Task state transitions; from="none" when a task first appears.',
      labelNames: ['from', 'to'],
      registers,
    });
    this.#queueWait = new Histogram({
      name: `${prefix}task_queue_wait_seconds`,
      help: 'Time tasks spent queued before their Job was created (queued → creating).',
      buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
      registers,
    });
    this.#runDuration = new Histogram({
      name: `${prefix}task_run_duration_seconds`,
      help: 'Time from running to the outcome, by outcome.',
      labelNames: ['outcome'],
      buckets: [1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 21600],
      registers,
    });
    this.#requests = new Counter({
      name: `${prefix}kube_api_requests_total`,
      help: `Kubernetes API request attempts (each retry counts), by verb, resource type and code ("${okCode}" ok, "${noResponseCode}" no HTTP answer).`,
      labelNames: ['verb', 'resource', 'code'],
      registers,
    });
    this.#requestDuration = new Histogram({
      name: `${prefix}kube_api_request_duration_seconds`,
      help: 'Duration of Kubernetes API request attempts.',
      labelNames: ['verb', 'resource'],
      registers,
    });
    this.#errors = new Counter({
      name: `${prefix}kube_api_errors_total`,
      help: 'Kubernetes API request attempts that failed, by verb and code.',
      labelNames: ['verb', 'code'],
      registers,
    });
    this.#retries = new Counter({
      name: `${prefix}kube_api_retries_total`,
      help: 'Kubernetes API requests retried after a transient error, by verb.',
      labelNames: ['verb'],
      registers,
    });
    this.#throttleWait = new Histogram({
      name: `${prefix}kube_api_throttle_wait_seconds`,
      help: 'Waits of requests held back by the client-side rate limit (only waits > 0).',
      buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10],
      registers,
    });
    this.#reconnects = new Counter({
      name: `${prefix}watch_reconnects_total`,
      help: 'Restarts of the shared watch streams (clean ends included), by resource.',
      labelNames: ['resource'],
      registers,
    });
    this.#relists = new Counter({
      name: `${prefix}watch_relists_total`,
      help: 'LISTs of the shared watch after its first one (410 Gone, or a failed LIST), by resource.',
      labelNames: ['resource'],
      registers,
    });
    this.#orphans = new Counter({
      name: `${prefix}orphan_jobs_total`,
      help: 'Orphan Jobs found (at start or by the periodic scan), by what the runner did: reported, deleted, adopted.',
      labelNames: ['action'],
      registers,
    });
    this.#purged = new Counter({
      name: `${prefix}purged_tasks_total`,
      help: 'Finished tasks removed from the store by retention (record, transitions, logs), by outcome.',
      labelNames: ['outcome'],
      registers,
    });
    this.#leader = new Gauge({
      name: `${prefix}leader`,
      help: 'Leader election (leaderElection): 1 while this replica leads, else 0.',
      registers,
    });
    this.#leaderChanges = new Counter({
      name: `${prefix}leader_changes_total`,
      help: 'Leader election: times this replica saw the Lease pass to another holder (or to none).',
      registers,
    });
    // One read of the store's size per scrape, shared by the two gauges.
    let sizeRead: Promise<StoreSize> | undefined;
    const storeSize = (): Promise<StoreSize> => {
      sizeRead ??= (sources.storeSize?.() ?? Promise.resolve({})).finally(() => {
        sizeRead = undefined;
      });
      return sizeRead;
    };
    new Gauge({
      name: `${prefix}store_size_bytes`,
      help: 'Bytes of the SQLite store (page_count × page_size, WAL included); no sample for other stores.',
      registers,
      async collect() {
        const { bytes } = await storeSize();
        if (bytes !== undefined) this.set(bytes);
      },
    });
    new Gauge({
      name: `${prefix}store_free_bytes`,
      help: 'Bytes of the SQLite store on its free list, reused by later writes; no sample for other stores.',
      registers,
      async collect() {
        const { freeBytes } = await storeSize();
        if (freeBytes !== undefined) this.set(freeBytes);
      },
    });
  }

  /** Counts finished tasks the retention purge removed from the store. */
  purged(outcome: TaskOutcome, count: number): void {
    this.#purged.inc({ outcome }, count);
  }

  /** Leader election: this replica leads (1) or not (0); a new holder of the Lease is counted. */
  leadership(change: 'leading' | 'stoppedLeading' | 'newLeader'): void {
    if (change === 'newLeader') this.#leaderChanges.inc();
    else this.#leader.set(change === 'leading' ? 1 : 0);
  }

  /** Counts an orphan Job found, by the action taken (`orphans` option). */
  orphan(action: 'reported' | 'deleted' | 'adopted'): void {
    this.#orphans.inc({ action });
  }

  /** Counts a transition and observes the queue wait and run duration it ends. */
  transition(t: Transition, record: TaskRecord | undefined): void {
    if (t.retry) this.#retriesByReason.inc({ reason: t.retry.reason, action: t.retry.action });
    if (t.from === t.to) return;
    this.#transitions.inc({ from: t.from ?? 'none', to: t.to });
    const at = Date.parse(t.at);
    // A task's first transition is `ADD` into queued at its `createdAt`, which its record keeps:
    // only a return to the queue (a retry, a quota wait) is held here, not an entry per queued task.
    if (t.to === 'queued' && t.from !== null) this.#queuedAt.set(t.taskId, at);
    if (t.from === 'queued' && t.to === 'creating') {
      // A task queued since it was added (or resumed queued after a restart) waited from creation.
      const since = this.#queuedAt.get(t.taskId) ?? (record ? Date.parse(record.createdAt) : undefined);
      if (since !== undefined) this.#queueWait.observe(seconds(at - since));
    }
    if (t.to === 'running') this.#runningAt.set(t.taskId, at);
    if (t.outcome !== undefined && t.to === t.outcome && t.from === 'running') {
      const since = this.#runningAt.get(t.taskId) ?? (record?.startedAt ? Date.parse(record.startedAt) : undefined);
      if (since !== undefined) this.#runDuration.observe({ outcome: t.outcome }, seconds(at - since));
    }
    if (t.to !== 'queued') this.#queuedAt.delete(t.taskId);
    if (t.to !== 'running') this.#runningAt.delete(t.taskId);
  }

  /** Counts what the Kubernetes side reported. */
  kube(event: KubeTelemetryEvent): void {
    switch (event.type) {
      case 'request': {
        const { verb, resource } = event;
        const code = event.outcome === 'ok' ? okCode : event.statusCode ? String(event.statusCode) : noResponseCode;
        this.#requests.inc({ verb, resource, code });
        this.#requestDuration.observe({ verb, resource }, seconds(event.durationMs));
        if (event.outcome === 'error') this.#errors.inc({ verb, code });
        return;
      }
      case 'retry':
        this.#retries.inc({ verb: event.verb });
        return;
      case 'throttled':
        this.#throttleWait.observe(seconds(event.waitedMs));
        return;
      case 'watch': {
        const watch = event.event;
        if (watch.type === 'reconnecting') this.#reconnects.inc({ resource: watch.resource });
        if (watch.type === 'listed') {
          if (this.#listed.has(watch.resource)) this.#relists.inc({ resource: watch.resource });
          this.#listed.add(watch.resource);
        }
        return;
      }
    }
  }
}
