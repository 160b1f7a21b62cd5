import type { Registry } from 'prom-client';
import type { Observable } from 'rxjs';
import type { DuplicateTaskError, QueueFullError, ValidationError } from '../errors.js';
import type { TaskListQuery, TaskPage, TaskRecord, Transition } from '../types.js';
import type { TaskInput } from '../validation/task-spec.js';
import type { RunnerHealth } from './health.js';
import type { PreflightReport } from './preflight.js';
import type { RunnerEvent } from './runner-events.js';

/** How `shutdown` treats tasks that are running. */
export type ShutdownMode = 'detach' | 'drain' | 'cancel';

/** Options of `Runner.shutdown`. */
export interface ShutdownOptions {
  /** @default 'detach' */
  mode?: ShutdownMode;
  /**
   * Bound (ms) of the wait of `drain` and `cancel`: when it is up, the runner stops waiting and
   * detaches (persists, closes, leaves the Jobs still running to the next start), says so with a
   * logger warning and a `shutdownDetached` event on `events$` (`reason: 'timeout'`), and resolves.
   * A finite number ≥ 0, else `ValidationError`. Ignored by `detach`, which does not wait.
   * @default no bound
   */
  timeoutMs?: number;
}

/** Options of `Runner.waitFor`. */
export interface WaitForOptions {
  /** Abandons the wait: `waitFor` rejects with the signal's `reason`. The task goes on. */
  signal?: AbortSignal;
  /**
   * Abandons the wait after this many ms: `waitFor` rejects with `WaitTimeoutError`. The task goes
   * on. A finite number ≥ 0, else `ValidationError`.
   * @default no bound
   */
  timeoutMs?: number;
}

/** Options of `Runner.addTask`. */
export interface AddTaskOptions {
  /**
   * Abandons the add while nothing is stored yet: already aborted, or aborted before the durable
   * write starts, `addTask` rejects with the signal's `reason` and stores nothing. Once the write
   * has started it is not interrupted: the task may be stored (and then is queued and runs as
   * normal) even if the signal aborts meanwhile, and `addTask` resolves with its record.
   */
  signal?: AbortSignal;
}

/** Options of `Runner.addTasks`. */
export interface AddTasksOptions {
  /**
   * Abandons the whole add while nothing is stored yet: already aborted, or aborted before the
   * batch's durable write starts, `addTasks` rejects with the signal's `reason` and stores nothing.
   * Once the write has started it is not interrupted (as for `AddTaskOptions.signal`).
   */
  signal?: AbortSignal;
}

/**
 * One task's result from `Runner.addTasks`, at the task's index in the input. `id` is the input's
 * `id` as given (`''` when it has none that is a string).
 */
export type AddTaskResult =
  /** Stored and queued, or already known with the identical spec (a no-op, as for `addTask`). */
  | { id: string; ok: true; record: TaskRecord }
  /** Refused, as `addTask` would have thrown it; nothing of this task was stored. */
  | { id: string; ok: false; error: DuplicateTaskError | ValidationError | QueueFullError };

/** A running k8s-jobs runner. Create one with `createRunner`. */
export interface Runner {
  /**
   * Validates and durably queues a task; resolves with its record once stored. An aborted
   * `signal` rejects before anything is stored; see `AddTaskOptions.signal` for an abort during
   * the write (the task may still be stored, and then runs). Bad input, and a pod template that
   * breaks the runner's `podSecurity` level, reject with `ValidationError` before anything is
   * stored or sent.
   */
  addTask(task: TaskInput, options?: AddTaskOptions): Promise<TaskRecord>;
  /**
   * Adds many tasks at once: each is checked as `addTask` checks it (input, `podSecurity`, an id
   * already known — identical spec: a no-op, else `DuplicateTaskError` — and `queueSize`, taken
   * in input order), and the new ones are stored in ONE durable batch (one SQLite or PostgreSQL
   * transaction) before any is queued. Resolves with one result per task, in input order: a
   * refused task is reported (`ValidationError`, `DuplicateTaskError`, `QueueFullError`), never
   * thrown for the whole batch. The same id twice in one call is the same as two `addTask` calls:
   * the second is a no-op if the spec is identical, else `DuplicateTaskError`. Rejects as a whole
   * only when the runner is closed (`RunnerClosedError`), the store fails, or `signal` aborts
   * before anything is stored.
   *
   * @example
   * ```ts
   * const results = await runner.addTasks([
   *   { id: 'resize-1', image: 'busybox', command: ['true'] },
   *   { id: 'resize-2', image: 'busybox', command: ['true'] },
   * ]);
   * const refused = results.filter((r) => !r.ok);
   * ```
   */
  addTasks(tasks: readonly TaskInput[], options?: AddTasksOptions): Promise<AddTaskResult[]>;
  /**
   * The task's current record: from memory for an open or recently finished task, else from the
   * store (a finished task leaves memory once its `deleted` record is durable, see `docs/runner.md`);
   * `TaskNotFoundError` if unknown.
   */
  getTask(id: string): Promise<TaskRecord>;
  /**
   * One page of the tasks in the store, finished ones included, newest first (by `createdAt`, then
   * id): optionally only those in `state`, or finished with `outcome`. Served by an index of the
   * store (a page costs the same on a store of a million tasks); records this runner holds in
   * memory are the freshest and win. Pass `nextCursor` back as `cursor` for the next page: tasks
   * added meanwhile sort before the first page, so paging never repeats nor skips a task that
   * stays in the list. `limit` is 100 by default, at most 1,000 (else `ValidationError`).
   *
   * @example
   * ```ts
   * const { items, nextCursor } = await runner.listTasks({ state: 'deleted', outcome: 'failed', limit: 50 });
   * ```
   */
  listTasks(query?: TaskListQuery): Promise<TaskPage>;
  /**
   * Resolves with the record once the task is `deleted` (cleaned up); the outcome is on it. With
   * `signal` or `timeoutMs` the wait can be abandoned (it rejects with the signal's reason, or with
   * `WaitTimeoutError`) and leaves nothing behind; the task itself goes on. For a task already
   * finished (in this process or before it) it resolves with the stored `deleted` record.
   *
   * @example
   * ```ts
   * const record = await runner.waitFor('unique-job-id', { timeoutMs: 60_000 }); // else WaitTimeoutError
   * ```
   */
  waitFor(id: string, options?: WaitForOptions): Promise<TaskRecord>;
  /** The task's logs: from its pod while it exists, else the stored snapshot. */
  getLogs(id: string): Promise<string>;
  /**
   * Cancels a task: a queued one ends `cancelled` without a Job; a running one has its Job deleted
   * and ends `cancelled` (one being created, once the create has answered). A task whose outcome
   * is already decided — finished in this process or before it started, whether still in memory or
   * only in the store — is left as it is, and the call resolves: a no-op. Rejects with `TaskNotFoundError` for an id
   * neither the runner nor the store knows.
   */
  cancel(id: string): Promise<void>;
  /**
   * Stops the runner. `detach` (default): stop taking work, persist, close the watch, leave running
   * Jobs for the next start; `drain`: wait for active tasks first; `cancel`: cancel active tasks
   * and wait for their Jobs to be deleted. Queued tasks stay queued in the store in every mode.
   * `timeoutMs` bounds the wait of `drain` and `cancel`: past it the runner detaches (see
   * `ShutdownOptions.timeoutMs`). A `shutdown({ mode: 'detach' })` called while a drain or cancel
   * waits ends the wait at once the same way (`reason: 'detach'`) and returns the same promise.
   * Afterwards every method rejects with `RunnerClosedError` (a `task$` or `logs$` subscribed then
   * errors with it), except `shutdown`, which returns the first call's promise; the streams open
   * at the time complete. `shutdownOnSignals` wires SIGTERM/SIGINT to it.
   */
  shutdown(options?: ShutdownOptions): Promise<void>;
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
   * Subscribed after shutdown, it errors with `RunnerClosedError`.
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
   * without repeating lines; a stream behind the pod when the task finishes is still read to its
   * end, given up only after the request timeout (30 s) of silence — then what the stored final
   * snapshot holds beyond what was streamed (for a finished task, the whole snapshot; after a
   * stream cut short in a log that rotated, its kept tail after a `[k8s-jobs: the live log was
   * cut; …]` line, as the snapshot holds only the current file); then completes. Errors with
   * `TaskNotFoundError` for an unknown id, and with `KubernetesApiError` when the log cannot be
   * requested (retries exhausted). Shared per id: a second subscriber joins the live lines from
   * then on (`getLogs` has the log so far). Completes on shutdown; subscribed after it, errors
   * with `RunnerClosedError`.
   *
   * @example
   * ```ts
   * runner.logs$('unique-job-id').subscribe({
   *   next: (line) => console.log(line),
   *   complete: () => console.log('done'),
   * });
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
  /**
   * The runner's health now, as plain JSON, for readiness and liveness probes: `status` (`ok`,
   * `degraded`, `down`; see `HealthStatus`), the shared watch (`connected` or `reconnecting` since
   * when, the last event seen), whether the store is writable (its last write, its last error),
   * the queue's depth and capacity, active tasks and `maxConcurrentJobs`. Synchronous and cheap;
   * answers after shutdown too (`status: 'down'`).
   *
   * @example
   * ```ts
   * const { status, watch } = runner.health();
   * const ready = status !== 'down' && watch.state === 'connected';
   * ```
   */
  health(): RunnerHealth;
  /**
   * Checks that the cluster will take this runner's work, without running any: a
   * SelfSubjectAccessReview for every permission the runner uses, that the namespace exists, and
   * a server-side dry-run create (`dryRun=All`) of the Job the runner would make for `sampleTask`
   * (default: busybox running `true`), which validation, LimitRange, ResourceQuota and Pod
   * Security see as a real one. Nothing is created. Resolves with every check's result (problems
   * included); rejects only for an invalid `sampleTask` (`ValidationError`) or on abort.
   * `createRunner({ preflight: true })` runs it before the runner starts. See docs/runner.md, "Preflight".
   *
   * @example
   * ```ts
   * const report = await runner.preflight({ id: 'sample', image: 'my-app:1.2', command: ['true'] });
   * for (const { check, problem } of report.problems) console.error(`${check}: ${problem}`);
   * ```
   */
  preflight(sampleTask?: TaskInput, options?: { signal?: AbortSignal }): Promise<PreflightReport>;
}
