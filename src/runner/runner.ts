import { KubeConfig } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import { defer, from, merge, Subject, type Observable } from 'rxjs';
import { createActor, type Actor, type InspectionEvent } from 'xstate';
import { fingerprintSpec } from '../effects/fingerprint.js';
import { jobNameFor } from '../effects/job-name.js';
import type { JobWatcher } from '../effects/job-watcher.js';
import type { JobsGateway } from '../effects/jobs-gateway.js';
import { createKubeEffects } from '../effects/kube-effects.js';
import { JobLogFollower } from '../effects/log-follow.js';
import { createTaskEffects } from '../effects/task-effects.js';
import { DuplicateTaskError, QueueFullError, RunnerClosedError, TaskNotFoundError } from '../errors.js';
import type { TaskConfig, TaskMachineInput } from '../machines/task/contract.js';
import { toTaskRecord } from '../machines/task/record.js';
import { taskMachine } from '../machines/task/task-machine.js';
import { taskSystemId } from '../machines/supervisor/contract.js';
import { supervisorMachine } from '../machines/supervisor/supervisor-machine.js';
import type { TaskStore } from '../store/contract.js';
import { openTaskStore } from '../store/open-store.js';
import { newLockOwner } from '../store/store-lock.js';
import type { TaskRecord, TaskState, Transition } from '../types.js';
import { parseTaskSpec } from '../validation/parse.js';
import type { TaskInput } from '../validation/task-spec.js';
import { resolveRunnerOptions, type ResolvedRunnerOptions, type RunnerOptions } from './options.js';
import { planBoot, type OrphanJob } from './boot-plan.js';
import { runnerLogger, type Logger } from './logger.js';
import { RunnerMetrics } from './metrics.js';
import type { RunnerEvent } from './runner-events.js';
import { RunnerTelemetry } from './runner-telemetry.js';
import { taskFromOrphanJob } from './orphan-task.js';
import { createInspectionRedactor } from './inspection-redaction.js';
import { createTaskObserver } from './task-observer.js';
import { TaskJournal } from './task-journal.js';
import { TaskRegistry } from './task-registry.js';
import { registerStreamsInspection, TaskStreams } from './task-streams.js';

export type { RunnerEvent, RunnerEventKind } from './runner-events.js';

/** How `shutdown` treats tasks that are running. */
export type ShutdownMode = 'detach' | 'drain' | 'cancel';

/** A running k8s-jobs runner. Create one with `createRunner`. */
export interface Runner {
  /** Validates and durably queues a task; resolves with its record once stored. */
  addTask(task: TaskInput): Promise<TaskRecord>;
  /** The task's current record (from the store for a task finished before this process started); `TaskNotFoundError` if unknown. */
  getTask(id: string): Promise<TaskRecord>;
  /**
   * Every task in the store, finished ones included (optionally only those in `state`), oldest
   * first; records this runner holds in memory are the freshest and win. Reads the whole store:
   * prefer `transitions$`/`task$` for following tasks.
   */
  listTasks(filter?: { state?: TaskState }): Promise<TaskRecord[]>;
  /** Resolves with the record once the task is `deleted` (cleaned up); the outcome is on it. */
  waitFor(id: string): Promise<TaskRecord>;
  /** The task's logs: from its pod while it exists, else the stored snapshot. */
  getLogs(id: string): Promise<string>;
  /** Cancels a task in any state (a finished task is left as it is). */
  cancel(id: string): Promise<void>;
  /**
   * Stops the runner. `detach` (default): stop taking work, persist, close the watch, leave running
   * Jobs for the next start; `drain`: wait for active tasks first; `cancel`: cancel active tasks
   * and wait for their Jobs to be deleted. Queued tasks stay queued in the store in every mode.
   */
  shutdown(options?: { mode?: ShutdownMode }): Promise<void>;
  /**
   * Every transition of every task, as it happens: task id, `from` (null for the first), `to`, the
   * event that caused it, the time, and the outcome once there is one. Hot and shared (late
   * subscribers see only later transitions; the history is in the store); completes on shutdown.
   */
  readonly transitions$: Observable<Transition>;
  /**
   * The task's record now, then every change of it; completes after emitting the `deleted` record
   * (at once for a task already deleted). Errors with `TaskNotFoundError` for an id neither the
   * runner nor the store knows. Shared per id (a late subscriber starts from the current record).
   * Completes on shutdown too, whatever the task's state: the last record says where it was left.
   *
   * @example
   * ```ts
   * const last = await lastValueFrom(runner.task$('unique-job-id')); // the `deleted` record, with its outcome
   * ```
   */
  task$(id: string): Observable<TaskRecord>;
  /**
   * The task's log, line by line (without newlines): live from its pod while it runs — a queued
   * task's stream waits for its pod; a dropped connection is resumed from the last line's time
   * without repeating lines — then, once the task finished, what its stored final snapshot holds
   * beyond what was streamed (for a finished task, the whole snapshot); then completes. Errors with
   * `TaskNotFoundError` for an unknown id, and with `KubernetesApiError` when the log cannot be
   * requested (retries exhausted). Shared per id: a second subscriber joins the live lines from
   * then on (`getLogs` has the log so far). Completes on shutdown.
   *
   * @example
   * ```ts
   * runner.logs$('unique-job-id').subscribe({ next: (line) => console.log(line), complete: () => console.log('done') });
   * ```
   */
  logs$(id: string): Observable<string>;
  /**
   * Runner-level events (see `RunnerEvent`): orphan Jobs found at start, watch reconnects,
   * relists and stalls, client-side throttling (at most one event a second), API retries. Every
   * subscriber first receives what the start reported about orphans (it happened before
   * `createRunner` resolved), then live events; completes on shutdown.
   */
  readonly events$: Observable<RunnerEvent>;
  /**
   * The runner's Prometheus metrics (prom-client): serve `await metrics.metrics()` with
   * `metrics.contentType`, or combine with `Registry.merge([register, runner.metrics])`.
   */
  readonly metrics: Registry;
  /** The namespace the runner's Jobs live in. */
  readonly namespace: string;
}

/**
 * Creates a runner: opens the store, connects to the cluster, starts the shared watch and the
 * supervisor. See `RunnerOptions` for the defaults.
 *
 * @example
 * ```ts
 * const runner = await createRunner({ namespace: 'default', maxConcurrentJobs: 5, queueSize: 100 });
 * await runner.addTask({ id: 'unique-job-id', image: 'busybox', command: ['echo', 'Hello World'], timeout: 30 });
 * const done = await runner.waitFor('unique-job-id');
 * await runner.shutdown();
 * ```
 */
export async function createRunner(options: RunnerOptions = {}): Promise<Runner> {
  const resolved = resolveRunnerOptions(options);
  const kubeConfig = resolved.kubeConfig ?? loadDefaultKubeConfig();
  const store = await openTaskStore(resolved.store, { lock: { owner: newLockOwner() } });
  let runner: TaskRunner;
  try {
    runner = new TaskRunner(resolved, kubeConfig, store);
  } catch (err) {
    await store.close();
    throw err;
  }
  try {
    await runner.start();
    return runner;
  } catch (err) {
    // The watch or the supervisor may be running already: stop them too (this closes the store).
    await runner.shutdown().catch((stopErr: unknown) => {
      throw new AggregateError([err, stopErr], 'createRunner failed, and so did stopping what it had started', { cause: err });
    });
    throw err;
  }
}

function loadDefaultKubeConfig(): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromDefault();
  return kubeConfig;
}

class TaskRunner implements Runner {
  readonly #transitions = new Subject<Transition>();
  readonly transitions$ = this.#transitions.asObservable();
  readonly #events = new Subject<RunnerEvent>();
  readonly #bootEvents: RunnerEvent[] = [];
  readonly events$ = defer(() => merge(from([...this.#bootEvents]), this.#events));
  /** Next enqueue sequence number (FIFO within a priority, across restarts). */
  #nextSeq = 0;
  readonly namespace: string;
  readonly #registry = new TaskRegistry((record) => this.#streams.recordChanged(record));
  readonly #streams: TaskStreams;
  readonly #journal: TaskJournal;
  readonly #addsInFlight = new Map<string, Promise<TaskRecord>>();
  readonly #gateway: JobsGateway;
  readonly #watcher: JobWatcher;
  readonly #taskConfig: TaskConfig;
  #supervisor: Actor<typeof supervisorMachine> | undefined;
  #closed: RunnerClosedError | undefined;
  #queueReservations = 0;
  readonly metrics: Registry;
  readonly #log: Logger;
  readonly #telemetry: RunnerTelemetry;

  constructor(
    private readonly options: ResolvedRunnerOptions,
    kubeConfig: KubeConfig,
    private readonly store: TaskStore,
  ) {
    this.#log = runnerLogger(options.logger);
    const metrics = new RunnerMetrics({ tasks: () => this.#registry.list(), queueDepth: () => this.#registry.queuedCount }, options.metrics);
    this.metrics = metrics.registry;
    this.#telemetry = new RunnerTelemetry({ metrics, logger: this.#log, emit: (event) => this.#events.next(event) });
    this.#transitions.subscribe((t) => this.#telemetry.transition(t, this.#registry.get(t.taskId)));
    const kube = createKubeEffects({
      telemetry: this.#telemetry.kube,
      kubeConfig,
      namespace: options.namespace,
      rateLimit: options.rateLimit,
      retry: { maxAttempts: options.retry.maxAttempts, baseMs: options.retry.baseDelayMs, maxMs: options.retry.maxDelayMs },
      propagationPolicy: options.cleanup.propagationPolicy,
      watch: options.watch,
      logMaxBytes: options.logs.maxBytes,
    });
    this.namespace = kube.client.namespace;
    this.#gateway = kube.gateway;
    this.#watcher = kube.watcher;
    this.#streams = new TaskStreams({
      current: (id) => this.#registry.get(id),
      stored: (id) => this.store.getTask(id),
      logSnapshot: (id) => this.store.getLogSnapshot(id),
      observeJob: (jobName, listener) => this.#watcher.observe(jobName, listener),
      pods: (jobName) => this.#watcher.current(jobName)?.pods ?? [],
      follower: new JobLogFollower({ client: kube.client, policy: kube.gateway.policy }),
    });
    registerStreamsInspection(this, () => ({ ...this.#streams.inspect(), transitionsObservers: this.#transitions.observers.length, eventsObservers: this.#events.observers.length }));
    this.#journal = new TaskJournal(store, (err) => void this.#fail(err));
    this.#taskConfig = {
      stuck: options.stuck,
      clientTimeoutGraceMs: options.clientTimeoutGraceMs,
      keepJobs: options.cleanup.keepJobs,
      jobVanishedRetries: options.jobVanished === 'retry' ? 1 : 0,
    };
  }

  /**
   * Reconciles the store with the cluster, then starts the supervisor: stored tasks resume in their
   * state (see `boot-plan.ts`), orphans are reported (and deleted if configured). Nothing new is
   * accepted before this resolves.
   */
  async start(): Promise<void> {
    const open = await this.store.listOpenTasks();
    const { items: jobs } = await this.#gateway.listJobs();
    const plan = planBoot(open, jobs, this.#taskConfig);
    this.#nextSeq = plan.nextSeq;
    for (const record of plan.records) this.#registry.update(record);
    await this.#watcher.start();
    const effects = createTaskEffects({
      gateway: this.#gateway,
      watcher: this.#watcher,
      store: this.store,
      now: Date.now,
      logSnapshotIntervalMs: this.options.logs.snapshotIntervalMs,
      beforeEffect: (taskId) => this.#journal.whenDurable(taskId),
    });
    const observe = createTaskObserver({
      toRecord: toTaskRecord,
      current: (id) => this.#registry.get(id),
      now: Date.now,
      onChange: ({ record, context, transition }) => {
        this.#registry.update(record);
        // A failed write is reported once through the journal's onFatal, which stops the runner.
        void this.#journal.write(record, transition, { context }).catch(() => undefined);
        if (transition) this.#transitions.next(transition);
      },
    });
    const userInspect = this.options.inspect;
    // Redaction costs a copy per event: only paid when the user attached an inspector. Our own
    // observer keeps the real events (it persists the records from them).
    const redact = userInspect ? createInspectionRedactor() : undefined;
    const inspect = (event: InspectionEvent): void => {
      observe(event);
      if (!redact) return;
      // XState calls inspectors inside event processing: a throw there would drop the event
      // being processed (a task would miss its transition). An inspector is a debugging aid.
      try {
        const shown = redact(event);
        if (typeof userInspect === 'function') userInspect(shown);
        else userInspect?.next?.(shown);
      } catch (err) {
        this.#log.error({ err, inspectionEvent: event.type }, 'the inspect observer threw; the event was not shown to it');
      }
    };
    const machine = supervisorMachine.provide({ actors: { task: taskMachine.provide({ actors: effects }) } });
    const supervisor = createActor(machine, { input: { maxConcurrentJobs: this.options.maxConcurrentJobs }, inspect });
    supervisor.subscribe({ error: (err) => void this.#fail(err) });
    this.#supervisor = supervisor;
    supervisor.start();
    for (const { input, priority } of plan.resumes) supervisor.send({ type: 'RESUME', task: input, priority });
    for (const id of plan.vanished) supervisor.system.get(taskSystemId(id))?.send({ type: 'CLUSTER.OBSERVED', observation: { job: null, pods: [], at: Date.now() } });
    for (const orphan of plan.orphanCandidates) await this.#handleOrphan(orphan);
    this.#log.info({ namespace: this.namespace, resumed: plan.resumes.length, orphans: plan.orphanCandidates.length }, 'runner started');
  }

  /** A Job of ours with no open task: an orphan unless the store still has its task's record. */
  async #handleOrphan(orphan: OrphanJob): Promise<void> {
    if (orphan.taskId !== undefined && (await this.store.getTask(orphan.taskId))) return;
    const { job, ...identity } = orphan;
    let action: 'reported' | 'deleted' | 'adopted' = 'reported';
    let taskId = orphan.taskId;
    let error: string | undefined;
    // Neither is fatal: the orphan is reported with why it is still there.
    try {
      if (this.options.orphans === 'delete') {
        await this.#gateway.deleteJob(orphan.name, { uid: orphan.uid });
        action = 'deleted';
      } else if (this.options.orphans === 'adopt') {
        taskId = await this.#adopt(orphan.name, job);
        action = 'adopted';
      }
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
    const event: RunnerEvent = { kind: 'orphanJob', ...identity, ...(taskId !== undefined ? { taskId } : {}), action, ...(error !== undefined ? { error } : {}) };
    this.#bootEvents.push(event);
    this.#telemetry.report(event);
  }

  /**
   * Makes an orphan Job a task: its record is stored durably as `running` (with the Job's uid), then
   * the task resumes there like any re-attached one, so the watch decides its outcome, its logs are
   * harvested and the Job is cleaned up. Resolves with the task id.
   */
  async #adopt(jobName: string, job: OrphanJob['job']): Promise<string> {
    const { spec, fingerprint } = taskFromOrphanJob(job);
    // The id may fall back to the Job's name, which another task's record may already use.
    if (this.#registry.has(spec.id) || (await this.store.getTask(spec.id))) throw new DuplicateTaskError(spec.id);
    const at = new Date().toISOString();
    const jobUid = job.metadata?.uid ?? '';
    const record: TaskRecord = { id: spec.id, spec, state: 'running', jobName, jobUid, createdAt: at };
    const transition: Transition = { taskId: spec.id, from: null, to: 'running', event: 'ADOPT', at };
    const context = { jobUid, jobMayExist: true, slotHeld: true };
    await this.#journal.write(record, transition, { queue: { priority: spec.priority ?? 0, seq: this.#nextSeq++ }, context });
    this.#registry.update(record);
    this.#transitions.next(transition);
    const input: TaskMachineInput = { taskId: spec.id, spec, jobName, fingerprint, createdAt: at, config: this.#taskConfig, resume: { state: 'running', context } };
    this.#supervisor?.send({ type: 'RESUME', task: input, priority: spec.priority ?? 0 });
    return spec.id;
  }

  #ensureOpen(operation: string): void {
    if (this.#closed) throw new RunnerClosedError(operation, { cause: this.#closed.cause });
  }

  async addTask(task: TaskInput): Promise<TaskRecord> {
    this.#ensureOpen('addTask');
    const spec = parseTaskSpec(task);
    const fingerprint = fingerprintSpec(spec);
    const pending = this.#addsInFlight.get(spec.id);
    if (pending) {
      const record = await pending;
      return this.#sameTask(record, fingerprint);
    }
    const known = this.#registry.get(spec.id) ?? (await this.store.getTask(spec.id));
    if (known) return this.#sameTask(known, fingerprint);
    if (this.#registry.queuedCount + this.#queueReservations >= this.options.queueSize) {
      throw new QueueFullError(this.options.queueSize, spec.id);
    }
    this.#queueReservations++;
    const add = (async () => {
      try {
        const record: TaskRecord = { id: spec.id, spec, state: 'queued', jobName: jobNameFor(spec.id), createdAt: new Date().toISOString() };
        const transition: Transition = { taskId: spec.id, from: null, to: 'queued', event: 'ADD', at: record.createdAt };
        await this.#journal.write(record, transition, { queue: { priority: spec.priority ?? 0, seq: this.#nextSeq++ } });
        this.#ensureOpen('addTask');
        this.#registry.update(record);
        this.#transitions.next(transition);
        const input: TaskMachineInput = { taskId: spec.id, spec, jobName: record.jobName, fingerprint, createdAt: record.createdAt, config: this.#taskConfig };
        this.#supervisor?.send({ type: 'ENQUEUE', task: input, priority: spec.priority ?? 0 });
        return record;
      } finally {
        this.#queueReservations--;
        this.#addsInFlight.delete(spec.id);
      }
    })();
    this.#addsInFlight.set(spec.id, add);
    return add;
  }

  /** Re-adding an identical spec is a no-op; a different spec under the same id is refused. */
  #sameTask(record: TaskRecord, fingerprint: string): TaskRecord {
    if (fingerprintSpec(record.spec) !== fingerprint) throw new DuplicateTaskError(record.id);
    return record;
  }

  async getTask(id: string): Promise<TaskRecord> {
    this.#ensureOpen('getTask');
    const record = this.#registry.get(id) ?? (await this.store.getTask(id));
    if (!record) throw new TaskNotFoundError(id);
    return record;
  }

  async listTasks(filter: { state?: TaskState } = {}): Promise<TaskRecord[]> {
    this.#ensureOpen('listTasks');
    const stored = await this.store.listTasks();
    const seen = new Set(stored.map((r) => r.id));
    // A task added a moment ago may be in memory before its write is visible to the scan.
    const all = [...stored.map((r) => this.#registry.get(r.id) ?? r), ...this.#registry.list().filter((r) => !seen.has(r.id))];
    return filter.state === undefined ? all : all.filter((r) => r.state === filter.state);
  }

  async waitFor(id: string): Promise<TaskRecord> {
    this.#ensureOpen('waitFor');
    if (!this.#registry.has(id)) {
      // Only open tasks are loaded at boot: one that finished before this process started is on disk.
      const stored = await this.store.getTask(id);
      if (!stored) throw new TaskNotFoundError(id);
      if (stored.state === 'deleted' && !this.#registry.has(id)) return stored;
    }
    return this.#registry.waitFor(id);
  }

  task$(id: string): Observable<TaskRecord> {
    return this.#streams.task$(id);
  }

  logs$(id: string): Observable<string> {
    return this.#streams.logs$(id);
  }

  async getLogs(id: string): Promise<string> {
    const record = await this.getTask(id);
    if (record.state !== 'queued' && record.state !== 'deleted') {
      const live = await this.#gateway.readJobLog(record.jobName);
      if (live !== undefined) return live.text;
    }
    return (await this.store.getLogSnapshot(id))?.text ?? '';
  }

  async cancel(id: string): Promise<void> {
    this.#ensureOpen('cancel');
    if (!this.#registry.has(id)) throw new TaskNotFoundError(id);
    this.#supervisor?.send({ type: 'CANCEL', taskId: id, at: Date.now() });
  }

  async shutdown({ mode = 'detach' }: { mode?: ShutdownMode } = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = new RunnerClosedError('shutdown');
    this.#log.info({ mode }, 'runner shutting down');
    const supervisor = this.#supervisor;
    supervisor?.send({ type: 'PAUSE' });
    const active = this.#registry.list().filter((r) => r.state !== 'queued' && r.state !== 'deleted');
    if (mode === 'cancel') for (const record of active) supervisor?.send({ type: 'CANCEL', taskId: record.id, at: Date.now() });
    if (mode !== 'detach') await Promise.all(active.map((r) => this.#registry.waitFor(r.id).catch(() => undefined)));
    await this.#stop(new RunnerClosedError('shutdown'));
  }

  /** A fatal error (store write failed, supervisor crashed): stop cleanly, reject what waits. */
  async #fail(err: unknown): Promise<void> {
    if (this.#closed) return;
    this.#closed = new RunnerClosedError('runner stopped after a fatal error', { cause: err });
    this.#log.error({ err }, 'runner stopped after a fatal error');
    await this.#stop(this.#closed);
  }

  /** Every cleanup step runs even when one fails; the first failure is rethrown at the end. */
  async #stop(reason: RunnerClosedError): Promise<void> {
    const errors: unknown[] = [];
    // First: streams complete now, rather than fail on the store and the watch closing under them.
    this.#streams.close();
    const step = async (fn: () => unknown) => {
      try {
        await fn();
      } catch (err) {
        errors.push(err);
      }
    };
    await step(() => this.#supervisor?.stop());
    await step(() => this.#journal.flush());
    await step(() => this.#watcher.stop());
    await step(() => this.store.close());
    this.#registry.rejectWaiters(reason);
    this.#telemetry.flush();
    this.#transitions.complete();
    this.#events.complete();
    this.#log.info({ errors: errors.length }, 'runner stopped');
    if (errors.length > 0) throw errors[0];
  }
}
