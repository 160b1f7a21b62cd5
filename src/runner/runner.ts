import type { KubeConfig } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import { defer, from, merge, type Observable } from 'rxjs';
import {
  DuplicateTaskError,
  QueueFullError,
  RunnerClosedError,
  TaskNotFoundError,
  WaitTimeoutError,
} from '../errors.js';
import { fingerprintSpec } from '../jobs/fingerprint.js';
import { jobNameFor } from '../jobs/job-name.js';
import type { TaskMachineInput } from '../machines/task/contract.js';
import type { TaskStore } from '../store/contract.js';
import type { TaskListQuery, TaskPage, TaskRecord, Transition } from '../types.js';
import { parseTaskSpec } from '../validation/parse.js';
import type { TaskInput } from '../validation/task-spec.js';
import { checkTaskPodSecurity } from './task-pod-security.js';
import { loadBootPlan, resumeTasks } from './boot.js';
import type { ResolvedRunnerOptions } from './options.js';
import { healthOf, type RunnerHealth } from './health.js';
import { OrphanScanner } from './orphan-scan.js';
import { handleOrphan } from './orphans.js';
import type { AddTaskOptions, Runner, ShutdownMode, ShutdownOptions, WaitForOptions } from './runner-api.js';
import type { RunnerEvent } from './runner-events.js';
import { wireRunner, type RunnerParts } from './runner-parts.js';
import { stopRunner } from './stop.js';
import { registerStreamsInspection } from './task-streams.js';
import { createTaskSupervisor, type TaskSupervisor } from './task-supervisor.js';
import { checkTimeoutMs } from './timeout-option.js';

/**
 * The runner `createRunner` returns: the public methods, over the parts `wireRunner` builds. Its
 * start (`boot.ts`, `orphans.ts`) and its stop (`stop.ts`) live beside it.
 */
export class TaskRunner implements Runner {
  readonly #parts: RunnerParts;
  readonly transitions$: Observable<Transition>;
  /** What the start reported (orphans): every `events$` subscriber receives it first. */
  readonly #bootEvents: RunnerEvent[] = [];
  readonly events$: Observable<RunnerEvent>;
  readonly metrics: Registry;
  readonly namespace: string;
  readonly #addsInFlight = new Map<string, Promise<TaskRecord>>();
  #supervisor: TaskSupervisor | undefined;
  /** The periodic orphan scan, from the end of the start until the runner closes. */
  #orphanScan: OrphanScanner | undefined;
  #closed: RunnerClosedError | undefined;
  #queueReservations = 0;
  /** The shutdown under way (a second call returns it). */
  #shutdown: Promise<void> | undefined;
  /** Ends the wait of a `drain` or `cancel` shutdown at once (a later `shutdown({ mode: 'detach' })`). */
  #stopWaiting: AbortController | undefined;

  constructor(options: ResolvedRunnerOptions, kubeConfig: KubeConfig, store: TaskStore) {
    const parts = wireRunner(options, kubeConfig, store, (err) => void this.#fail(err));
    this.#parts = parts;
    this.transitions$ = parts.transitions.asObservable();
    this.events$ = defer(() => merge(from([...this.#bootEvents]), parts.events));
    this.metrics = parts.metrics;
    this.namespace = parts.jobs.namespace;
    registerStreamsInspection(this, () => ({
      ...parts.streams.inspect(),
      transitionsObservers: parts.transitions.observers.length,
      eventsObservers: parts.events.observers.length,
      waiters: parts.registry.waiterCount,
      records: parts.registry.size,
      openRecords: parts.registry.openCount,
    }));
  }

  /**
   * Reconciles the store with the cluster, then starts the supervisor: stored tasks resume in their
   * state (see `boot-plan.ts`), orphans are reported (and deleted or adopted if configured).
   * Nothing new is accepted before this resolves.
   */
  async start(): Promise<void> {
    const parts = this.#parts;
    const plan = await loadBootPlan(parts);
    await parts.observer.start();
    const supervisor = createTaskSupervisor(parts, (err) => void this.#fail(err));
    this.#supervisor = supervisor;
    supervisor.start();
    resumeTasks(supervisor, plan);
    for (const orphan of plan.orphanCandidates) {
      const event = await handleOrphan(parts, supervisor, orphan);
      if (!event) continue;
      this.#bootEvents.push(event);
      parts.telemetry.report(event);
    }
    this.#orphanScan = new OrphanScanner(parts, supervisor, {
      intervalMs: parts.options.orphanScanIntervalMs,
      pendingTaskIds: () => this.#addsInFlight.keys(),
    });
    this.#orphanScan.start(plan.orphanCandidates);
    parts.retention.start();
    const started = { namespace: this.namespace, resumed: plan.resumes.length, orphans: plan.orphanCandidates.length };
    parts.log.info(started, 'runner started');
  }

  #ensureOpen(operation: string): void {
    if (this.#closed) throw new RunnerClosedError(operation, { cause: this.#closed.cause });
  }

  async addTask(task: TaskInput, { signal }: AddTaskOptions = {}): Promise<TaskRecord> {
    this.#ensureOpen('addTask');
    signal?.throwIfAborted();
    const { registry, options } = this.#parts;
    const spec = parseTaskSpec(task);
    checkTaskPodSecurity(spec, this.namespace, options.podSecurity);
    const fingerprint = fingerprintSpec(spec);
    const pending = this.#addsInFlight.get(spec.id);
    if (pending) {
      const record = await pending;
      return this.#sameTask(record, fingerprint);
    }
    const known = registry.get(spec.id) ?? (await this.#parts.store.getTask(spec.id));
    if (known) return this.#sameTask(known, fingerprint);
    // The last moment nothing is stored: past it the write goes ahead whatever the signal says.
    signal?.throwIfAborted();
    if (registry.queuedCount + this.#queueReservations >= options.queueSize) {
      throw new QueueFullError(options.queueSize, spec.id);
    }
    this.#queueReservations++;
    const add = (async () => {
      try {
        return await this.#enqueue(spec, fingerprint);
      } finally {
        this.#queueReservations--;
        this.#addsInFlight.delete(spec.id);
      }
    })();
    this.#addsInFlight.set(spec.id, add);
    return add;
  }

  /** Stores the new task as `queued` (durably, first), then hands it to the supervisor. */
  async #enqueue(spec: TaskMachineInput['spec'], fingerprint: string): Promise<TaskRecord> {
    const { journal, registry, sequence, transitions } = this.#parts;
    const priority = spec.priority ?? 0;
    const createdAt = new Date().toISOString();
    const jobName = jobNameFor(spec.id);
    const record: TaskRecord = { id: spec.id, spec, state: 'queued', jobName, createdAt };
    const transition: Transition = { taskId: spec.id, from: null, to: 'queued', event: 'ADD', at: createdAt };
    await journal.write(record, transition, { queue: { priority, seq: sequence.take() } });
    this.#ensureOpen('addTask');
    registry.update(record);
    transitions.next(transition);
    const input: TaskMachineInput = {
      taskId: spec.id,
      spec,
      jobName,
      fingerprint,
      createdAt,
      config: this.#parts.taskConfig,
    };
    this.#supervisor?.send({ type: 'ENQUEUE', task: input, priority });
    return record;
  }

  /** Re-adding an identical spec is a no-op; a different spec under the same id is refused. */
  #sameTask(record: TaskRecord, fingerprint: string): TaskRecord {
    if (fingerprintSpec(record.spec) !== fingerprint) throw new DuplicateTaskError(record.id);
    return record;
  }

  async getTask(id: string): Promise<TaskRecord> {
    this.#ensureOpen('getTask');
    const record = this.#parts.registry.get(id) ?? (await this.#parts.store.getTask(id));
    if (!record) throw new TaskNotFoundError(id);
    return record;
  }

  async listTasks(query: TaskListQuery = {}): Promise<TaskPage> {
    this.#ensureOpen('listTasks');
    const { registry, store } = this.#parts;
    // `addTask` resolves once its record is durable, so the store's index already holds every
    // task added; the records this runner holds in memory may be fresher, and then win.
    const page = await store.listTasks(query);
    const { state, outcome } = query;
    const items = page.items
      .map((stored) => registry.get(stored.id) ?? stored)
      .filter((r) => (state ?? r.state) === r.state && (outcome === undefined || r.outcome === outcome));
    return { ...page, items };
  }

  async waitFor(id: string, options: WaitForOptions = {}): Promise<TaskRecord> {
    this.#ensureOpen('waitFor');
    const timeoutMs = checkTimeoutMs(options.timeoutMs, 'waitFor options');
    const { signal } = options;
    signal?.throwIfAborted();
    if (!signal && timeoutMs === undefined) return this.#waitFor(id);
    // One signal for the registry's waiter: the caller's abort or the timeout, whichever comes first.
    const bound = new AbortController();
    const onAbort = (): void => bound.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => bound.abort(new WaitTimeoutError(id, timeoutMs)), timeoutMs);
    try {
      return await this.#waitFor(id, bound.signal);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  async #waitFor(id: string, signal?: AbortSignal): Promise<TaskRecord> {
    const { registry } = this.#parts;
    if (!registry.has(id)) {
      // Memory holds open tasks and a few finished ones: any other finished task is on disk only.
      const stored = await this.#parts.store.getTask(id);
      if (!stored) throw new TaskNotFoundError(id);
      if (stored.state === 'deleted' && !registry.has(id)) return stored;
    }
    return registry.waitFor(id, signal);
  }

  // Checked on subscription: a stream subscribed before shutdown completes with it, a later one errors.
  task$(id: string): Observable<TaskRecord> {
    return defer(() => {
      this.#ensureOpen('task$');
      return this.#parts.streams.task$(id);
    });
  }

  logs$(id: string): Observable<string> {
    return defer(() => {
      this.#ensureOpen('logs$');
      return this.#parts.streams.logs$(id);
    });
  }

  async getLogs(id: string): Promise<string> {
    this.#ensureOpen('getLogs');
    const record = await this.getTask(id);
    if (record.state !== 'queued' && record.state !== 'deleted') {
      const live = await this.#parts.jobs.readJobLog(record.jobName);
      if (live !== undefined) return live.text;
    }
    return (await this.#parts.store.getLogSnapshot(id))?.text ?? '';
  }

  async cancel(id: string): Promise<void> {
    this.#ensureOpen('cancel');
    // A task being added is cancelled once it is queued, not mistaken for a stored one.
    await this.#addsInFlight.get(id)?.catch(() => undefined);
    if (this.#parts.registry.has(id)) {
      // A task past its outcome ignores it, as does the supervisor once the task's actor is gone.
      this.#supervisor?.send({ type: 'CANCEL', taskId: id, at: Date.now() });
      return;
    }
    // Memory holds open tasks and a few finished ones: one only the store knows is finished.
    if (!(await this.#parts.store.getTask(id))) throw new TaskNotFoundError(id);
  }

  health(): RunnerHealth {
    const { observer, journal, registry, options } = this.#parts;
    const active = registry.list().filter((r) => r.state !== 'queued' && r.state !== 'deleted').length;
    return healthOf({
      closed: this.#closed !== undefined,
      watch: observer.health(),
      stallGraceMs: options.watch.stallGraceMs,
      store: journal.health(),
      queue: { depth: registry.queuedCount, capacity: options.queueSize },
      active,
      maxConcurrentJobs: options.maxConcurrentJobs,
      now: Date.now(),
    });
  }

  async shutdown({ mode = 'detach', timeoutMs }: ShutdownOptions = {}): Promise<void> {
    const bound = checkTimeoutMs(timeoutMs, 'shutdown options');
    if (this.#shutdown) {
      // A detach asked while a drain or cancel waits (a second signal) ends that wait now.
      if (mode === 'detach') this.#stopWaiting?.abort('detach');
      return this.#shutdown;
    }
    if (this.#closed) return;
    this.#shutdown = this.#shutDown(mode, bound);
    return this.#shutdown;
  }

  async #shutDown(mode: ShutdownMode, timeoutMs: number | undefined): Promise<void> {
    this.#closed = new RunnerClosedError('shutdown');
    // No new scan from now on; one in progress is awaited before the parts stop under it.
    const scanStopped = this.#orphanScan?.stop();
    const purgeStopped = this.#parts.retention.stop();
    const { registry, log } = this.#parts;
    log.info({ mode, timeoutMs }, 'runner shutting down');
    const supervisor = this.#supervisor;
    supervisor?.send({ type: 'PAUSE' });
    const active = registry.list().filter((r) => r.state !== 'queued' && r.state !== 'deleted');
    if (mode === 'cancel') {
      for (const record of active) supervisor?.send({ type: 'CANCEL', taskId: record.id, at: Date.now() });
    }
    if (mode !== 'detach')
      await this.#waitForActive(
        mode,
        active.map((r) => r.id),
        timeoutMs,
      );
    await scanStopped;
    await purgeStopped;
    await stopRunner(this.#parts, this.#supervisor, new RunnerClosedError('shutdown'));
  }

  /**
   * Waits until every task of `ids` is `deleted`, at most `timeoutMs`, or until a detach ends the
   * wait; when it ended early, says so (`shutdownDetached`) and the caller detaches.
   */
  async #waitForActive(mode: 'drain' | 'cancel', ids: string[], timeoutMs: number | undefined): Promise<void> {
    const { registry, telemetry } = this.#parts;
    const stop = new AbortController();
    this.#stopWaiting = stop;
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => stop.abort('timeout'), timeoutMs);
    // One listener on `stop`, however many tasks: the waiters left behind are rejected by `stopRunner`.
    const stopped = new Promise<void>((resolve) =>
      stop.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    try {
      await Promise.race([Promise.all(ids.map((id) => registry.waitFor(id).catch(() => undefined))), stopped]);
    } finally {
      clearTimeout(timer);
      this.#stopWaiting = undefined;
    }
    // Not in memory any more: finished, its `deleted` record durable (the registry let it go).
    const remaining = ids.filter((id) => {
      const record = registry.get(id);
      return record !== undefined && record.state !== 'deleted';
    });
    if (!stop.signal.aborted || remaining.length === 0) return;
    const reason = stop.signal.reason === 'timeout' ? 'timeout' : 'detach';
    telemetry.report({
      kind: 'shutdownDetached',
      mode,
      reason,
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      remaining,
    });
  }

  /** A fatal error (store write failed, supervisor crashed): stop cleanly, reject what waits. */
  async #fail(err: unknown): Promise<void> {
    if (this.#closed) return;
    this.#closed = new RunnerClosedError('runner stopped after a fatal error', { cause: err });
    this.#parts.log.error({ err }, 'runner stopped after a fatal error');
    await this.#orphanScan?.stop();
    await this.#parts.retention.stop();
    await stopRunner(this.#parts, this.#supervisor, this.#closed);
  }
}
