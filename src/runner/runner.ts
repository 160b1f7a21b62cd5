import { KubeConfig } from '@kubernetes/client-node';
import { Subject, type Observable } from 'rxjs';
import { createActor, type Actor, type InspectionEvent } from 'xstate';
import { fingerprintSpec } from '../effects/fingerprint.js';
import { jobNameFor } from '../effects/job-name.js';
import type { JobWatcher } from '../effects/job-watcher.js';
import type { JobsGateway } from '../effects/jobs-gateway.js';
import { createKubeEffects } from '../effects/kube-effects.js';
import { createTaskEffects } from '../effects/task-effects.js';
import { DuplicateTaskError, QueueFullError, RunnerClosedError, TaskNotFoundError } from '../errors.js';
import type { TaskConfig, TaskMachineInput } from '../machines/task/contract.js';
import { toTaskRecord } from '../machines/task/record.js';
import { taskMachine } from '../machines/task/task-machine.js';
import { supervisorMachine } from '../machines/supervisor/supervisor-machine.js';
import type { TaskStore } from '../store/contract.js';
import { openTaskStore } from '../store/open-store.js';
import type { TaskRecord, TaskState, Transition } from '../types.js';
import { parseTaskSpec } from '../validation/parse.js';
import type { TaskInput } from '../validation/task-spec.js';
import { resolveRunnerOptions, type ResolvedRunnerOptions, type RunnerOptions } from './options.js';
import { createTaskObserver } from './task-observer.js';
import { TaskJournal } from './task-journal.js';
import { TaskRegistry } from './task-registry.js';

/** How `shutdown` treats tasks that are running. */
export type ShutdownMode = 'detach' | 'drain' | 'cancel';

/** A running k8s-jobs runner. Create one with `createRunner`. */
export interface Runner {
  /** Validates and durably queues a task; resolves with its record once stored. */
  addTask(task: TaskInput): Promise<TaskRecord>;
  getTask(id: string): Promise<TaskRecord>;
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
  /** Every transition of every task (hot; completes on shutdown). */
  readonly transitions$: Observable<Transition>;
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
  const store = await openTaskStore(resolved.store);
  try {
    const runner = new TaskRunner(resolved, kubeConfig, store);
    await runner.start();
    return runner;
  } catch (err) {
    await store.close();
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
  readonly namespace: string;
  readonly #registry = new TaskRegistry();
  readonly #journal: TaskJournal;
  readonly #addsInFlight = new Map<string, Promise<TaskRecord>>();
  readonly #gateway: JobsGateway;
  readonly #watcher: JobWatcher;
  readonly #taskConfig: TaskConfig;
  #supervisor: Actor<typeof supervisorMachine> | undefined;
  #closed: RunnerClosedError | undefined;
  #queueReservations = 0;

  constructor(
    private readonly options: ResolvedRunnerOptions,
    kubeConfig: KubeConfig,
    private readonly store: TaskStore,
  ) {
    const kube = createKubeEffects({
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
    this.#journal = new TaskJournal(store, (err) => void this.#fail(err));
    this.#taskConfig = { stuck: options.stuck, clientTimeoutGraceMs: options.clientTimeoutGraceMs, keepJobs: options.cleanup.keepJobs };
  }

  async start(): Promise<void> {
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
      onChange: ({ record, transition }) => {
        this.#registry.update(record);
        void this.#journal.write(record, transition).catch(() => undefined);
        if (transition) this.#transitions.next(transition);
      },
    });
    const userInspect = this.options.inspect;
    const inspect = (event: InspectionEvent): void => {
      observe(event);
      if (typeof userInspect === 'function') userInspect(event);
      else userInspect?.next?.(event);
    };
    const machine = supervisorMachine.provide({ actors: { task: taskMachine.provide({ actors: effects }) } });
    const supervisor = createActor(machine, { input: { maxConcurrentJobs: this.options.maxConcurrentJobs }, inspect });
    supervisor.subscribe({ error: (err) => void this.#fail(err) });
    this.#supervisor = supervisor;
    supervisor.start();
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
        await this.#journal.write(record, transition);
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
    return this.#registry.list(filter.state);
  }

  async waitFor(id: string): Promise<TaskRecord> {
    this.#ensureOpen('waitFor');
    if (!this.#registry.has(id) && !(await this.store.getTask(id))) throw new TaskNotFoundError(id);
    return this.#registry.waitFor(id);
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
    await this.#stop(this.#closed);
  }

  /** Every cleanup step runs even when one fails; the first failure is rethrown at the end. */
  async #stop(reason: RunnerClosedError): Promise<void> {
    const errors: unknown[] = [];
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
    this.#transitions.complete();
    if (errors.length > 0) throw errors[0];
  }
}
