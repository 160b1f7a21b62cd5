import type { KubeConfig } from '@kubernetes/client-node';
import { context, type Context } from '@opentelemetry/api';
import type { Registry } from 'prom-client';
import { defer, from, merge, type Observable } from 'rxjs';
import {
  messageOf,
  DuplicateTaskError,
  QueueFullError,
  RunnerClosedError,
  TaskNotFoundError,
  ValidationError,
  WaitTimeoutError,
} from '../errors.js';
import { fingerprintSpec } from '../jobs/fingerprint.js';
import { jobNameFor } from '../jobs/job-name.js';
import type { QueuedTask, SupervisorCommand } from '../machines/supervisor/contract.js';
import type { TaskMachineInput } from '../machines/task/contract.js';
import type { TaskStore } from '../store/contract.js';
import type { TaskListQuery, TaskPage, TaskRecord, Transition } from '../types.js';
import { createLeaseLock } from '../kube/lease-lock.js';
import { LeaderElector, resolveLeaderElectionOptions, type LeaderEvent } from '../leader/index.js';
import { postgresNotifierFor } from '../store/postgres-notifier.js';
import { parseTaskSpec } from '../validation/parse.js';
import type { TaskInput } from '../validation/task-spec.js';
import { checkTaskPodSecurity } from './task-pod-security.js';
import { loadBootPlan, resumeTasks } from './boot.js';
import type { ResolvedRunnerOptions } from './options.js';
import { healthOf, type RunnerHealth } from './health.js';
import type { PreflightReport } from './preflight.js';
import { preflightRunner } from './runner-preflight.js';
import { OrphanScanner } from './orphan-scan.js';
import { handleOrphan } from './orphans.js';
import type {
  AddTaskOptions,
  AddTaskResult,
  AddTasksOptions,
  Runner,
  ShutdownMode,
  ShutdownOptions,
  WaitForOptions,
} from './runner-api.js';
import type { RunnerEvent } from './runner-events.js';
import { wireRunner, type RunnerParts } from './runner-parts.js';
import { stopRunner } from './stop.js';
import { registerStreamsInspection } from './task-streams.js';
import { createTaskSupervisor, type TaskSupervisor } from './task-supervisor.js';
import { LeaderTasks } from './leader-tasks.js';
import { Replication } from './replication.js';
import { checkTimeoutMs } from './timeout-option.js';

type TaskSpec = TaskMachineInput['spec'];

/** A new task, ready to be stored (`TaskSave`) and then queued. */
interface NewTask {
  record: TaskRecord;
  transition: Transition;
  extras: { queue: { priority: number; seq: number } };
  input: TaskMachineInput;
  priority: number;
  /** The caller's trace context when it added the task: the task's span is a child of its active span. */
  traceContext: Context;
}

/** One input of `addTasks` after the checks without I/O; `first` is set on a repeat of an id. */
interface Accepted {
  id: string;
  error?: undefined;
  spec: TaskSpec;
  first: number | undefined;
}
type Checked = { id: string; error: RefusedError } | Accepted;

type RefusedError = DuplicateTaskError | ValidationError | QueueFullError;

/** One replica of several (`leaderElection`): its elector and its notifications. */
interface Replica {
  identity: string;
  elector: LeaderElector;
  replication: Replication;
}

/** The input's id as given, for a result ('' when it is not a string). */
const idOf = (task: unknown): string => {
  const id = (task as { id?: unknown } | null | undefined)?.id;
  return typeof id === 'string' ? id : '';
};

/** Whether two specs are the same task (the same fingerprint): made only when an add meets another. */
const sameSpec = (a: TaskSpec, b: TaskSpec): boolean => fingerprintSpec(a) === fingerprintSpec(b);

/** An error `addTasks` reports per task; anything else (a store failure, a bug) is thrown for the batch. */
function refusal(err: unknown): RefusedError {
  if (err instanceof DuplicateTaskError || err instanceof ValidationError || err instanceof QueueFullError) return err;
  throw err;
}

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
  /** Tasks made durable in this turn, not sent to the supervisor yet (see {@link #enqueue}). */
  #enqueues: QueuedTask[] = [];
  /** The periodic orphan scan, from the end of the start until the runner closes. */
  #orphanScan: OrphanScanner | undefined;
  #closed: RunnerClosedError | undefined;
  #queueReservations = 0;
  /** The shutdown under way (a second call returns it). */
  #shutdown: Promise<void> | undefined;
  /** Ends the wait of a `drain` or `cancel` shutdown at once (a later `shutdown({ mode: 'detach' })`). */
  #stopWaiting: AbortController | undefined;
  /** Several replicas (`leaderElection`): undefined for a runner of its own. */
  readonly #replica: Replica | undefined;
  /** While this replica leads: what it does beyond a runner of its own (undefined otherwise). */
  #leader: LeaderTasks | undefined;
  /** Leadership terms: each `leading` and `lost` starts a new one; a start of an older term gives up. */
  #term = 0;
  /** This replica was told it leads, and has not lost it since (its boot may still be under way). */
  #leading = false;
  /** The last term's engine stopping (a new term starts after it). */
  #engineStopped: Promise<void> = Promise.resolve();

  /** The runner's KubeConfig, for `preflight()`. */
  readonly #kubeConfig: KubeConfig;

  constructor(options: ResolvedRunnerOptions, kubeConfig: KubeConfig, store: TaskStore) {
    this.#kubeConfig = kubeConfig;
    const parts = wireRunner(
      options,
      kubeConfig,
      store,
      (err) => void this.#fail(err),
      (transitions) => this.#replica?.replication.durable(transitions),
    );
    this.#parts = parts;
    this.#replica = options.leaderElection ? this.#replicaOf(options, kubeConfig) : undefined;
    this.transitions$ = this.#replica
      ? merge(parts.transitions, this.#replica.replication.remote$)
      : parts.transitions.asObservable();
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

  /** The elector over the Lease and the store's notifier of a replica; `ValidationError` without a shared store. */
  #replicaOf(options: ResolvedRunnerOptions, kubeConfig: KubeConfig): Replica {
    const parts = this.#parts;
    const election = options.leaderElection ?? { leaseName: '' };
    const namespace = parts.jobs.namespace;
    const config = resolveLeaderElectionOptions({ ...election, namespace: election.namespace ?? namespace });
    const notifier = postgresNotifierFor(options.store);
    if (!notifier) {
      const rule =
        'with leaderElection, must be a PostgreSQL store the replicas share (postgres://… or a Keyv over @keyv/postgres)';
      throw new ValidationError([{ field: 'store', rule }], 'runner options');
    }
    const lock = createLeaseLock(kubeConfig, { namespace: config.namespace ?? namespace, name: config.leaseName });
    const elector = new LeaderElector(config, lock);
    const replication = new Replication(parts, notifier, config.identity, {
      isLeader: () => this.#leading,
      term: () => this.#term,
      // While the term's boot resumes the stored tasks, any of them may be the supervisor's.
      runs: (taskId) => this.#leader?.has(taskId) ?? this.#leading,
      added: (record) => this.#leader?.enqueue(record),
      cancelRequested: () => this.#leader?.rescan(),
      rescan: () => this.#leader?.rescan(),
    });
    parts.transitions.subscribe((t) => {
      if (t.to === 'deleted') this.#leader?.finished(t.taskId);
    });
    return { identity: config.identity, elector, replication };
  }

  /**
   * Reconciles the store with the cluster, then starts the supervisor: stored tasks resume in their
   * state (see `boot-plan.ts`), orphans are reported (and deleted or adopted if configured).
   * Nothing new is accepted before this resolves.
   *
   * One replica of several (`leaderElection`): the shared watch starts, the open tasks are read,
   * the replica listens to the others and takes part in the election; all of the above happens
   * each time it becomes the leader, not here.
   */
  async start(): Promise<void> {
    const replica = this.#replica;
    if (!replica) return this.#startEngine(undefined);
    const parts = this.#parts;
    await parts.observer.start();
    for (const { record } of await parts.store.listOpenTasks()) parts.registry.update(record);
    await replica.replication.start();
    replica.elector.events$.subscribe((event) => this.#onLeaderEvent(event));
    replica.elector.start();
    parts.log.info({ namespace: this.namespace, identity: replica.identity }, 'runner started, following');
  }

  /**
   * The supervisor and everything that acts on the cluster: for a runner of its own, once at start
   * (`term` undefined); for a replica, each time it becomes the leader (`term`), given up as soon
   * as that term ends.
   */
  async #startEngine(term: number | undefined): Promise<void> {
    const parts = this.#parts;
    const current = (): boolean => term === undefined || term === this.#term;
    // Another replica wrote these tasks since this one last led: what it remembers of them is stale.
    if (term !== undefined) parts.store.resetCaches();
    const plan = await loadBootPlan(parts);
    if (!current()) return;
    if (term === undefined) {
      // Before anything moves: a resumed task's span starts in its stored state.
      parts.tracing.resumed(plan.records);
      await parts.observer.start();
    }
    const supervisor = createTaskSupervisor(parts, (err) => void this.#fail(err));
    this.#supervisor = supervisor;
    supervisor.start();
    resumeTasks(supervisor, plan);
    if (term !== undefined) {
      this.#leader = new LeaderTasks(
        parts,
        supervisor,
        plan.resumes.map((resume) => resume.input.taskId),
      );
    }
    for (const orphan of plan.orphanCandidates) {
      const event = await handleOrphan(parts, supervisor, orphan);
      if (!current()) return;
      if (!event) continue;
      if (term === undefined) this.#bootEvents.push(event);
      parts.telemetry.report(event);
    }
    this.#orphanScan = new OrphanScanner(parts, supervisor, {
      intervalMs: parts.options.orphanScanIntervalMs,
      pendingTaskIds: () => this.#addsInFlight.keys(),
    });
    this.#orphanScan.start(plan.orphanCandidates);
    parts.retention.start();
    this.#leader?.start();
    const started = { namespace: this.namespace, resumed: plan.resumes.length, orphans: plan.orphanCandidates.length };
    parts.log.info(started, term === undefined ? 'runner started' : 'leading: tasks resumed');
  }

  /**
   * The end of a leadership term: the supervisor stops now, synchronously (its tasks' effects are
   * aborted, their records stay as stored for the next leader; a boot still under way gives up at
   * its next step); the returned promise resolves once the scans have stopped and the last writes
   * are durable.
   */
  #stopEngine(): Promise<void> {
    const supervisor = this.#supervisor;
    const leader = this.#leader;
    const orphanScan = this.#orphanScan;
    this.#supervisor = undefined;
    this.#leader = undefined;
    this.#orphanScan = undefined;
    supervisor?.stop();
    return (async () => {
      await Promise.all([leader?.stop(), orphanScan?.stop(), this.#parts.retention.stop()]);
      await this.#parts.journal.flush();
    })();
  }

  #onLeaderEvent(event: LeaderEvent): void {
    const { telemetry, log } = this.#parts;
    const replica = this.#replica;
    if (!replica || this.#closed) return;
    const identity = replica.identity;
    switch (event.type) {
      case 'leading': {
        const term = ++this.#term;
        this.#leading = true;
        telemetry.report({ kind: 'leadership', identity, change: 'leading', leader: identity });
        // The previous term's stop first: its last writes are durable before the boot reads the store.
        this.#engineStopped = this.#engineStopped
          .then(() => this.#startEngine(term))
          .catch((err: unknown) => {
            // A leader that cannot boot (the store or the cluster refusing) stops, as a controller would.
            if (term === this.#term) void this.#fail(err);
          });
        return;
      }
      case 'lost':
        ++this.#term;
        this.#leading = false;
        telemetry.report({
          kind: 'leadership',
          identity,
          change: 'stoppedLeading',
          leader: replica.elector.leader(),
          reason: event.reason,
        });
        this.#afterStop(this.#stopEngine());
        return;
      case 'leader':
        telemetry.report({ kind: 'leadership', identity, change: 'newLeader', leader: event.identity });
        return;
      case 'attemptFailed':
        log.debug({ phase: event.phase, error: messageOf(event.error) }, 'leader election: a try failed');
        return;
    }
  }

  /** The next term starts once `stopped` (and whatever was before it) has ended. */
  #afterStop(stopped: Promise<void>): void {
    this.#engineStopped = Promise.all([this.#engineStopped, stopped]).then(
      () => undefined,
      // Its last writes could not be made durable: the store failed, which is fatal.
      (err: unknown) => void this.#fail(err),
    );
  }

  /**
   * A replica stops: it stops leading (the supervisor first, then its last writes made durable),
   * releases the Lease so another replica takes over at its next try, and stops listening.
   */
  async #stopReplica(): Promise<void> {
    const replica = this.#replica;
    if (!replica) return;
    ++this.#term;
    this.#leading = false;
    this.#afterStop(this.#stopEngine());
    await this.#engineStopped;
    const { releaseError } = await replica.elector.stop();
    if (releaseError !== undefined) {
      this.#parts.log.warn({ error: messageOf(releaseError) }, 'releasing the Lease failed; others wait it out');
    }
    await replica.replication.close();
  }

  #ensureOpen(operation: string): void {
    if (this.#closed) throw new RunnerClosedError(operation, { cause: this.#closed.cause });
  }

  async addTask(task: TaskInput, { signal }: AddTaskOptions = {}): Promise<TaskRecord> {
    this.#ensureOpen('addTask');
    signal?.throwIfAborted();
    const spec = this.#check(task);
    // Looked up again when another add of this id started (or ended) while this one looked: the
    // two must not both write a first record.
    for (;;) {
      const known = await this.#known(spec);
      if (known) return known;
      // Replicas: the id is taken in the shared store first, so two replicas cannot both store it.
      if (this.#replica && !(await this.#claimed(spec))) throw new DuplicateTaskError(spec.id);
      if (!this.#addsInFlight.has(spec.id) && !this.#parts.registry.has(spec.id)) break;
    }
    // The last moment nothing is stored: past it the write goes ahead whatever the signal says.
    signal?.throwIfAborted();
    this.#reserveQueue(spec.id);
    const added = this.#newTask(spec);
    return this.#track(spec.id, async () => {
      await this.#parts.journal.write(added.record, added.transition, added.extras);
      this.#publish('addTask', added);
      return added.record;
    });
  }

  async addTasks(tasks: readonly TaskInput[], { signal }: AddTasksOptions = {}): Promise<AddTaskResult[]> {
    this.#ensureOpen('addTasks');
    signal?.throwIfAborted();
    // Each task checked as addTask checks it; the first of each id is looked up (concurrently).
    const firstOf = new Map<string, number>();
    const checked = tasks.map((task, index): Checked => {
      const id = idOf(task);
      try {
        const spec = this.#check(task);
        const first = firstOf.get(spec.id);
        if (first === undefined) firstOf.set(spec.id, index);
        return { id, spec, first };
      } catch (err) {
        return { id, error: refusal(err) };
      }
    });
    const lookups = await Promise.all(
      checked.map(async (c) => {
        if (c.error || c.first !== undefined) return undefined;
        return this.#existing(c.spec.id);
      }),
    );
    // Replicas: each new id is taken in the shared store first (see addTask).
    const taken = await Promise.all(
      checked.map(async (c, index) => {
        if (!this.#replica || c.error || c.first !== undefined || lookups[index]) return true;
        return this.#claimed(c.spec);
      }),
    );
    // The last moment nothing is stored (see AddTasksOptions.signal).
    signal?.throwIfAborted();
    this.#ensureOpen('addTasks');
    const results: AddTaskResult[] = [];
    const late: Array<[index: number, known: Promise<TaskRecord | undefined>]> = [];
    const batch: Array<NewTask & { index: number }> = [];
    for (const [index, c] of checked.entries()) {
      const lookup = lookups[index];
      if (c.error) results.push({ id: c.id, ok: false, error: c.error });
      else if (c.first !== undefined) results.push(this.#repeat(c, results[c.first], lookups[c.first]));
      else if (lookup) results.push(this.#againstKnown(c, lookup));
      else if (!taken[index]) results.push({ id: c.id, ok: false, error: new DuplicateTaskError(c.spec.id) });
      else if (this.#addsInFlight.has(c.spec.id) || this.#parts.registry.has(c.spec.id)) {
        // An add of the same id started (or ended) while this call looked up: its outcome decides.
        late.push([index, this.#known(c.spec)]);
        results.push({ id: c.id, ok: false, error: new DuplicateTaskError(c.spec.id) });
      } else {
        try {
          this.#reserveQueue(c.spec.id);
        } catch (err) {
          results.push({ id: c.id, ok: false, error: refusal(err) });
          continue;
        }
        const added = this.#newTask(c.spec);
        batch.push({ ...added, index });
        results.push({ id: c.id, ok: true, record: added.record });
      }
    }
    for (const [index, known] of late) {
      const id = results[index]?.id ?? '';
      results[index] = await known.then(
        (record): AddTaskResult =>
          record ? { id, ok: true, record } : { id, ok: false, error: new DuplicateTaskError(id) },
        (err: unknown): AddTaskResult => ({ id, ok: false, error: refusal(err) }),
      );
    }
    if (batch.length === 0) return results;
    // One write for the whole batch (TaskStore.saveNewTasks: one transaction).
    const write = this.#parts.journal.writeNew(batch);
    const stored = batch.map((added) =>
      this.#track(added.record.id, async () => {
        await write;
        return added.record;
      }),
    );
    await Promise.all(stored);
    for (const added of batch) this.#publish('addTasks', added);
    return results;
  }

  /**
   * The result of an id seen before in this `addTasks` call: checked against the task it already
   * named before the call (as a second `addTask` would be), else against its first occurrence here.
   */
  #repeat(c: Accepted, first: AddTaskResult | undefined, known: TaskRecord | undefined): AddTaskResult {
    if (known) return this.#againstKnown(c, known);
    if (!first?.ok) throw new Error(`addTasks: no result for the first "${c.spec.id}"`);
    if (!sameSpec(first.record.spec, c.spec)) {
      return { id: c.id, ok: false, error: new DuplicateTaskError(c.spec.id) };
    }
    return { ...first, id: c.id };
  }

  /** An add of an id already known: a no-op with the identical spec, else `DuplicateTaskError`. */
  #againstKnown(c: Accepted, known: TaskRecord): AddTaskResult {
    if (!sameSpec(known.spec, c.spec)) {
      return { id: c.id, ok: false, error: new DuplicateTaskError(c.spec.id) };
    }
    return { id: c.id, ok: true, record: known };
  }

  /**
   * The checks of addTask that need no I/O: the input's schema, then the pod security level. The
   * spec's fingerprint is computed only where an add is compared with another (a known id, a
   * replica's claim): hashing every new spec was about a tenth of an enqueue's CPU.
   */
  #check(task: TaskInput): TaskSpec {
    const spec = parseTaskSpec(task);
    checkTaskPodSecurity(spec, this.namespace, this.#parts.options.podSecurity);
    return spec;
  }

  /**
   * The record of a task this id already names (being added, in memory or in the store), if its
   * spec is the same; `DuplicateTaskError` if not; `undefined` for a new id.
   */
  async #known(spec: TaskSpec): Promise<TaskRecord | undefined> {
    const known = await this.#existing(spec.id);
    return known && this.#sameTask(known, spec);
  }

  /** The record of the task this id names (being added, in memory or in the store), if any. */
  async #existing(id: string): Promise<TaskRecord | undefined> {
    const pending = this.#addsInFlight.get(id);
    if (pending) return pending;
    return this.#parts.registry.get(id) ?? (await this.#parts.store.getTask(id));
  }

  /**
   * Whether this spec holds the id in the shared store (it took it now, or took it before: an
   * identical add on another replica); false when another spec took it first.
   */
  async #claimed(spec: TaskSpec): Promise<boolean> {
    const fingerprint = fingerprintSpec(spec);
    return (await this.#parts.store.claimTask(spec.id, fingerprint)) === fingerprint;
  }

  /** Takes room in the queue for a task about to be stored; `QueueFullError` when there is none. */
  #reserveQueue(id: string): void {
    const { registry, options } = this.#parts;
    if (registry.queuedCount + this.#queueReservations >= options.queueSize) {
      throw new QueueFullError(options.queueSize, id);
    }
    this.#queueReservations++;
  }

  /** Runs the add of a task that holds a queue reservation; concurrent adds and cancels of its id wait for it. */
  #track(id: string, add: () => Promise<TaskRecord>): Promise<TaskRecord> {
    const tracked = (async () => {
      try {
        return await add();
      } finally {
        this.#queueReservations--;
        this.#addsInFlight.delete(id);
      }
    })();
    this.#addsInFlight.set(id, tracked);
    return tracked;
  }

  /** A new task's first record, transition and queue entry, and its task machine's input. */
  #newTask(spec: TaskSpec): NewTask {
    const priority = spec.priority ?? 0;
    const createdAt = new Date().toISOString();
    const jobName = jobNameFor(spec.id);
    const record: TaskRecord = { id: spec.id, spec, state: 'queued', jobName, createdAt };
    const transition: Transition = { taskId: spec.id, from: null, to: 'queued', event: 'ADD', at: createdAt };
    const extras = { queue: { priority, seq: this.#parts.sequence.take() } };
    const input: TaskMachineInput = {
      taskId: spec.id,
      spec,
      jobName,
      createdAt,
      config: this.#parts.taskConfig,
    };
    return { record, transition, extras, input, priority, traceContext: context.active() };
  }

  /**
   * A new task, now durable, is announced and handed to the supervisor (a replica that does not
   * lead leaves it to the leader, told by the notification of its durable transition).
   */
  #publish(operation: string, added: NewTask): void {
    this.#ensureOpen(operation);
    const { registry, transitions } = this.#parts;
    registry.update(added.record);
    // Its subscribers run in the caller's context (the tracing starts the task's span there).
    context.with(added.traceContext, () => transitions.next(added.transition));
    if (this.#replica) this.#leader?.enqueue(added.record, added.input);
    else this.#enqueue({ task: added.input, priority: added.priority });
  }

  /**
   * Hands a durable task to the supervisor. The tasks of one turn (a commit makes a whole batch
   * durable at once) reach it as one `ENQUEUE`: one step of the supervisor per commit instead of
   * one per task, which was a quarter of what an `addTask` allocated. The runner's other events
   * go through {@link #send}, which sends these first: the supervisor sees the runner's events in
   * the order they were made (a `cancel` right after its `addTask` finds the task queued).
   */
  #enqueue(queued: QueuedTask): void {
    if (this.#enqueues.push(queued) === 1) queueMicrotask(() => this.#sendEnqueues());
  }

  #sendEnqueues(): void {
    if (this.#enqueues.length === 0) return;
    const tasks = this.#enqueues;
    this.#enqueues = [];
    this.#supervisor?.send({ type: 'ENQUEUE', tasks });
  }

  /** Sends the supervisor an event, after the tasks queued for it (see {@link #enqueue}). */
  #send(event: SupervisorCommand): void {
    this.#sendEnqueues();
    this.#supervisor?.send(event);
  }

  /** Re-adding an identical spec is a no-op; a different spec under the same id is refused. */
  #sameTask(record: TaskRecord, spec: TaskSpec): TaskRecord {
    if (!sameSpec(record.spec, spec)) throw new DuplicateTaskError(record.id);
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
    if (this.#replica && !this.#leader?.has(id)) return this.#requestCancel(this.#replica, id);
    if (this.#parts.registry.has(id)) {
      // A task past its outcome ignores it, as does the supervisor once the task's actor is gone.
      this.#send({ type: 'CANCEL', taskId: id, at: Date.now() });
      return;
    }
    // Memory holds open tasks and a few finished ones: one only the store knows is finished.
    if (!(await this.#parts.store.getTask(id))) throw new TaskNotFoundError(id);
  }

  /** A replica that does not run the task: the leader is asked through the store. */
  async #requestCancel(replica: Replica, id: string): Promise<void> {
    const record = this.#parts.registry.get(id) ?? (await this.#parts.store.getTask(id));
    if (!record) throw new TaskNotFoundError(id);
    if (record.state === 'deleted') return;
    await replica.replication.requestCancel(id);
    // The leader itself, with the task not picked up yet: its scan acts on the request.
    this.#leader?.rescan();
  }

  async preflight(sampleTask?: TaskInput, { signal }: { signal?: AbortSignal } = {}): Promise<PreflightReport> {
    this.#ensureOpen('preflight');
    return await preflightRunner(this.#parts.options, this.#kubeConfig, sampleTask, signal);
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
      ...(this.#replica
        ? {
            leader: {
              identity: this.#replica.identity,
              leading: this.#leader !== undefined,
              holder: this.#replica.elector.leader(),
            },
          }
        : {}),
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
    this.#send({ type: 'PAUSE' });
    // A replica that does not lead has no task of its own running (those it sees are the leader's).
    const active = this.#supervisor ? registry.list().filter((r) => r.state !== 'queued' && r.state !== 'deleted') : [];
    if (mode === 'cancel') {
      for (const record of active) this.#send({ type: 'CANCEL', taskId: record.id, at: Date.now() });
    }
    if (mode !== 'detach')
      await this.#waitForActive(
        mode,
        active.map((r) => r.id),
        timeoutMs,
      );
    await scanStopped;
    await purgeStopped;
    await this.#stopReplica();
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
    await this.#stopReplica().catch((stopErr: unknown) =>
      this.#parts.log.error({ err: stopErr }, 'stopping the replica after a fatal error failed too'),
    );
    await stopRunner(this.#parts, this.#supervisor, this.#closed);
  }
}
