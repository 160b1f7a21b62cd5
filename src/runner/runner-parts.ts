import { effectiveRetryPolicy } from '../validation/retry-policy.js';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import { Subject } from 'rxjs';
import { messageOf } from '../errors.js';
import { createKubeAdapter } from '../kube/kube-adapter.js';
import type { TaskConfig } from '../machines/task/contract.js';
import type { ManagedJobObserver } from '../ports/job-observer.js';
import type { JobsPort } from '../ports/jobs-port.js';
import type { TaskStore } from '../store/contract.js';
import type { Transition } from '../types.js';
import { runnerLogger, type Logger } from './logger.js';
import { RunnerMetrics } from './metrics.js';
import { jobTtlBackstop, type ResolvedRunnerOptions } from './options.js';
import { RetentionPurger } from './retention.js';
import type { RunnerEvent } from './runner-events.js';
import { RunnerTelemetry } from './runner-telemetry.js';
import { TaskJournal } from './task-journal.js';
import { TaskRegistry } from './task-registry.js';
import { TaskStreams } from './task-streams.js';
import { TaskTracing } from './tracing.js';

/** Enqueue sequence numbers: FIFO within a priority, across restarts (a start begins past the stored ones). */
export class EnqueueSequence {
  #next = 0;

  constructor(private readonly clockBased = false) {}

  /** The next number to hand out (at start: one past the highest stored). */
  startAt(next: number): void {
    this.#next = next;
  }

  /**
   * Hands out the next number. Several replicas: numbers from the clock (µs since the epoch, never
   * below the last handed out), so FIFO within a priority holds across replicas as far as their
   * clocks agree.
   */
  take(): number {
    const next = this.clockBased ? Math.max(this.#next, Date.now() * 1000) : this.#next;
    this.#next = next + 1;
    return next;
  }
}

/** The collaborators of one runner, shared by its start, its public methods, its orphans and its stop. */
export interface RunnerParts {
  options: ResolvedRunnerOptions;
  store: TaskStore;
  log: Logger;
  /** Kubernetes: the adapter's Jobs of the runner's namespace. */
  jobs: JobsPort;
  /** The one shared watch: started at start, stopped at stop. */
  observer: ManagedJobObserver;
  /** Every task's latest record in memory. */
  registry: TaskRegistry;
  /** Durable writes of records and transitions. */
  journal: TaskJournal;
  /** `task$` and `logs$`. */
  streams: TaskStreams;
  telemetry: RunnerTelemetry;
  /** OpenTelemetry spans of tasks (no-op unless a tracer provider is given or registered). */
  tracing: TaskTracing;
  /** The Prometheus registry (`runner.metrics`). */
  metrics: Registry;
  /** Every transition of every task (`runner.transitions$`). */
  transitions: Subject<Transition>;
  /** Runner events after start (`runner.events$`). */
  events: Subject<RunnerEvent>;
  /** Per-task settings from the options. */
  taskConfig: TaskConfig;
  sequence: EnqueueSequence;
  /** The background purge of finished tasks (`retention`): started at start, stopped at stop. */
  retention: RetentionPurger;
}

/** What every task machine of a runner with these options is given as `config`. */
export function taskConfigOf(options: ResolvedRunnerOptions): TaskConfig {
  return {
    stuck: options.stuck,
    clientTimeoutGraceMs: options.clientTimeoutGraceMs,
    keepJobs: options.cleanup.keepJobs,
    jobVanishedRetries: options.jobVanished === 'retry' ? 1 : 0,
    retry: effectiveRetryPolicy(undefined, options.retry),
    requeueBackoff: options.requeueBackoff,
  };
}

/**
 * Builds the parts of a runner from its resolved options: logger, metrics and telemetry, the
 * Kubernetes adapter (not started), the registry, the streams and the journal. `onFatal` is told
 * once when a store write fails (the runner must stop).
 */
export function wireRunner(
  options: ResolvedRunnerOptions,
  kubeConfig: KubeConfig,
  store: TaskStore,
  onFatal: (err: unknown) => void,
  onDurable?: (transitions: readonly Transition[]) => void,
): RunnerParts {
  const log = runnerLogger(options.logger);
  const transitions = new Subject<Transition>();
  const events = new Subject<RunnerEvent>();
  // The streams are told of every record the registry stores (they exist by the first update).
  const registry = new TaskRegistry((record) => streams.recordChanged(record));
  const tasks = {
    tasks: () => registry.list(),
    queueDepth: () => registry.queuedCount,
    storeSize: () => store.size(),
  };
  const metrics = new RunnerMetrics(tasks, options.metrics);
  const telemetry = new RunnerTelemetry({ metrics, logger: log, emit: (event) => events.next(event) });
  const { retry } = options;
  const kube = createKubeAdapter({
    telemetry: telemetry.kube,
    kubeConfig,
    namespace: options.namespace,
    rateLimit: options.rateLimit,
    retry: { maxAttempts: retry.maxAttempts, baseMs: retry.baseDelayMs, maxMs: retry.maxDelayMs },
    propagationPolicy: options.cleanup.propagationPolicy,
    defaultTtlSecondsAfterFinished: jobTtlBackstop(options.cleanup),
    watch: options.watch,
    logMaxBytes: options.logs.maxBytes,
  });
  const observer = kube.watcher;
  const tracing = new TaskTracing({ tracerProvider: options.tracerProvider, namespace: kube.jobs.namespace });
  // Several replicas: a task's span lives on the replica that added it (it follows the task from
  // the others' notifications); the leader opens none for the tasks it picks up from others.
  const replicated = options.leaderElection !== undefined;
  transitions.subscribe({
    next: (t) => {
      const record = registry.get(t.taskId);
      telemetry.transition(t, record);
      if (!replicated || t.from === null || tracing.has(t.taskId)) tracing.transition(t, record);
    },
    // The runner stops: the spans of tasks still open end now, marked detached.
    complete: () => tracing.detach(),
  });
  const streams = new TaskStreams({
    current: (id) => registry.get(id),
    stored: (id) => store.getTask(id),
    logSnapshot: (id) => store.getLogSnapshot(id),
    observeJob: (jobName, listener) => observer.observe(jobName, listener),
    pods: (jobName) => observer.current(jobName)?.pods ?? [],
    follower: kube.jobs,
  });
  const taskConfig = taskConfigOf(options);
  return {
    options,
    store,
    log,
    jobs: kube.jobs,
    observer,
    registry,
    journal: new TaskJournal(store, onFatal, onDurable),
    streams,
    telemetry,
    tracing,
    metrics: metrics.registry,
    transitions,
    events,
    taskConfig,
    sequence: new EnqueueSequence(replicated),
    retention: new RetentionPurger({
      store,
      retention: options.retention,
      now: Date.now,
      onPurged: (outcome, ids) => {
        metrics.purged(outcome, ids.length);
        for (const id of ids) registry.forget(id);
      },
      onError: (err, outcome) => telemetry.report({ kind: 'retentionFailed', outcome, error: messageOf(err) }),
    }),
  };
}
