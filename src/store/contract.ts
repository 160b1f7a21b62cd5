/**
 * The one interface the runner persists through. Implemented over any Keyv store
 * (`keyv-task-store.ts`); `@keyv/sqlite` on a local file by default. Internal: not exported from
 * the package. A store of one's own is a Keyv storage adapter (`store: new Keyv(adapter)`), checked
 * by running the contract suite (`test/store/task-store-contract.ts`) over it.
 */
import type { TaskListQuery, TaskOutcome, TaskPage, TaskRecord, Transition } from '../types.js';
import type { CancelRequest, OpenEntry } from './layout.js';

/** A capped copy of a task's logs. */
export interface LogSnapshot {
  taskId: string;
  /** Head + truncation marker + tail when the log exceeded the cap, else the whole log. */
  text: string;
  /** Bytes of log the cluster had when this was taken. */
  totalBytes: number;
  truncated: boolean;
  /** Taken after the task finished (not a periodic snapshot). */
  final: boolean;
  /** ISO 8601. */
  capturedAt: string;
  pod?: string;
  container?: string;
  /**
   * Set when no log could be read at all (the pod was gone before the task finished — e.g. its
   * Job hit its deadline while no runner was up — or the container never started): the snapshot
   * is then empty, and this says why.
   */
  unavailable?: string;
}

/** What a save carries besides the record and transition. */
export interface SaveExtras {
  /** The task machine's context (plain JSON), stored with the record for restarts. */
  context?: Record<string, unknown>;
  /** The task's queue position: given on its first save, it enters the open-task index. */
  queue?: OpenEntry;
}

/** One task's save in {@link TaskStore.saveNewTasks}. */
export interface TaskSave {
  record: TaskRecord;
  transition?: Transition;
  extras?: SaveExtras;
}

/** A task that is not `deleted`, as a restart reads it. */
export interface OpenTask extends OpenEntry {
  record: TaskRecord;
  context?: Record<string, unknown>;
}

/** Which finished tasks {@link TaskStore.purgeFinished} removes: those of `outcome` matching either rule. */
export interface PurgeQuery {
  outcome: TaskOutcome;
  /** Tasks that finished (were `deleted`) before this time, epoch ms. */
  finishedBefore?: number;
  /** Every task of the outcome but the `keepNewest` that finished last. */
  keepNewest?: number;
  /** Tasks per call, 1 to {@link maxPurgeBatch}. @default 500 */
  limit?: number;
  /** Find the candidates, remove nothing. */
  dryRun?: boolean;
}

/** Largest `limit` of one {@link TaskStore.purgeFinished} call. */
export const maxPurgeBatch = 10_000;
/** `limit` of a {@link TaskStore.purgeFinished} call when none is given. */
export const defaultPurgeBatch = 500;

/** What one {@link TaskStore.purgeFinished} call did. */
export interface PurgeResult {
  /** The tasks removed (with `dryRun`, those that would be), oldest first for an age rule. */
  ids: string[];
  /** The batch was full: more tasks may match (call again). */
  more: boolean;
}

/** How big the store is, as far as it can tell. */
export interface StoreSize {
  /** Bytes of the database (SQLite: `page_count × page_size`); absent for stores that cannot tell. */
  bytes?: number;
  /** Bytes of it on the free list, reusable by later writes (SQLite only). */
  freeBytes?: number;
}

/**
 * Where the runner keeps tasks durably: records, their transitions, log snapshots and the
 * open-task index. Implemented once over Keyv (`@keyv/sqlite` on a local file by default, or
 * any Keyv the application passes as `store`).
 */
export interface TaskStore {
  /**
   * Stores the task's record and, if given, appends the transition to its history. Resolves once
   * both are durable. Writes for one task are applied in call order (an older record never
   * overwrites a newer one). A `deleted` record leaves the open-task index in the same batch.
   */
  saveTask(record: TaskRecord, transition?: Transition, extras?: SaveExtras): Promise<void>;
  /**
   * Stores the first records of new tasks (each transition, if given, from `null`) all in one
   * batch: one SQLite or PostgreSQL transaction however many (the group commit never splits one
   * call's entries). Resolves once all are durable; rejects, storing none, if the batch fails.
   */
  saveNewTasks(saves: readonly TaskSave[]): Promise<void>;
  /** Every task that is not `deleted`, ordered by (priority desc, seq asc). */
  listOpenTasks(): Promise<OpenTask[]>;
  /**
   * One page of the tasks the store holds, `deleted` ones included unless filtered out, newest
   * first (by `createdAt`, then id): one range read of the listing index, never a scan of every
   * task. `ValidationError` for a bad query (`limit` beyond 1,000, a cursor of another filter).
   */
  listTasks(query?: TaskListQuery): Promise<TaskPage>;
  /** The task's current record; undefined for an id the store does not hold. */
  getTask(id: string): Promise<TaskRecord | undefined>;
  /** The task's transitions, oldest first. */
  getTransitions(id: string): Promise<Transition[]>;
  /** Replaces the task's log snapshot; resolves once durable. */
  putLogSnapshot(snapshot: LogSnapshot): Promise<void>;
  /** The task's latest log snapshot; undefined before the first one is stored. */
  getLogSnapshot(taskId: string): Promise<LogSnapshot | undefined>;
  /**
   * Removes one bounded batch of finished (`deleted`) tasks of `query.outcome` — record,
   * transitions, log snapshot and every index key, in one batch of writes (one SQLite
   * transaction) — found by the retention index (`retention-index.ts`), never by a scan of every
   * task. Open tasks are never candidates, nor is a task with a write still queued. Call again
   * while `more` is true. `ValidationError` for a bad query.
   */
  purgeFinished(query: PurgeQuery): Promise<PurgeResult>;
  /** The store's size now (see {@link StoreSize}). */
  size(): Promise<StoreSize>;
  /**
   * Leaves a request to cancel a task for whichever replica leads (several replicas over one
   * store); resolves once durable. A second request for the same task replaces the first.
   */
  requestCancel(request: CancelRequest): Promise<void>;
  /**
   * Takes the id for the spec with this fingerprint before its first record is written, for
   * stores several replicas share: resolves with the fingerprint that holds the id (this one,
   * unless another replica's spec took it first). Stores no process shares answer `fingerprint`.
   */
  claimTask(id: string, fingerprint: string): Promise<string>;
  /** The cancel requests not yet acted on (one prefix scan). */
  listCancelRequests(): Promise<CancelRequest[]>;
  /** Removes the requests the leader acted on; resolves once durable. */
  clearCancelRequests(taskIds: readonly string[]): Promise<void>;
  /**
   * Forgets what this instance remembers of tasks (histories, index states) so the next write of
   * each reads the store first: after another process wrote them (a replica that leads again).
   */
  resetCaches(): void;
  /**
   * Gives free pages back to the file system, at most `maxPages` of them (SQLite with
   * `auto_vacuum = INCREMENTAL`: `PRAGMA incremental_vacuum`); does nothing on other stores.
   */
  releaseSpace(maxPages?: number): Promise<void>;
  /**
   * Flushes pending writes and closes the underlying store (a Keyv instance the application
   * passed in is left connected: it is the application's). Later calls reject with `StoreError`.
   */
  close(): Promise<void>;
}

/** What a {@link StoreNotifier}'s listener is told. */
export interface StoreNotifierHandlers {
  /** One message, as sent. */
  onMessage(message: string): void;
  /** The connection came back after a break: messages sent meanwhile were lost; read the store again. */
  onGap(): void;
  /** The connection broke, or a reconnect failed (it goes on trying). */
  onError(err: unknown): void;
}

/**
 * Messages between the replicas sharing a store (PostgreSQL `LISTEN`/`NOTIFY`): fast, not
 * durable — what matters is in the store, and a listener that missed messages reads it again.
 */
export interface StoreNotifier {
  /** Where, for messages (password redacted). */
  readonly location: string;
  /** Connects and listens; resolves once listening. */
  listen(handlers: StoreNotifierHandlers): Promise<void>;
  /** Sends to every listener (this one included), in order; rejects while disconnected. */
  notify(message: string): Promise<void>;
  close(): Promise<void>;
}
