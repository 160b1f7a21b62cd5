/**
 * `TaskStore` over any Keyv instance (layout in `layout.ts`). Every write goes through one
 * {@link GroupCommit}: writes of the same tick, or made while a batch is being written, reach the
 * adapter as one batch (one SQLite transaction with `@keyv/sqlite`, `setMany` otherwise), and a
 * newer value of a key is never overwritten by an older one.
 *
 * Appending a transition would be a read-modify-write of `transitions:<id>`; the histories of live
 * tasks are kept in a bounded LRU so that, in the normal run of a task, no read happens at all. A
 * task's history is dropped from memory once the task is `deleted`, or when it is the least
 * recently used one past capacity; the next append for it then reads it back (pending writes
 * first, then the adapter) while that task's later saves wait their turn.
 */
import type { KeyvSqlite } from '@keyv/sqlite';
import type Keyv from 'keyv';
import { messageOf, StoreError } from '../errors.js';
import type { TaskListQuery, TaskPage, TaskRecord, TaskState, Transition } from '../types.js';
import { BoundedCache } from '../collections/bounded-cache.js';
import type {
  LogSnapshot,
  OpenTask,
  PurgeQuery,
  PurgeResult,
  SaveExtras,
  StoreSize,
  TaskSave,
  TaskStore,
} from './contract.js';
import { GroupCommit } from './group-commit.js';
import { createKeyvAccess, removal, type BatchMode, type KeyvAccess } from './keyv-access.js';
import {
  cancelKey,
  cancelPrefix,
  claimKey,
  openKey,
  openPrefix,
  schemaKey,
  storeSchemaVersion,
  taskKey,
  taskPrefix,
  transitionsKey,
  type CancelRequest,
  type TaskClaim,
  type OpenEntry,
  type TaskEnvelope,
  type TransitionsEnvelope,
} from './layout.js';
import { logSnapshotEntries, readLogSnapshot } from './log-layout.js';
import { checkPurgeQuery, keysOfTask } from './purge.js';
import { ReadBatcher } from './read-batcher.js';
import { finishedBound, finishedIdOf, finishedKey, finishedOutcomePrefix } from './retention-index.js';
import { checkSchema, ensureSchema } from './schema.js';
import { isKeyvSqlite } from './sqlite-adapter.js';
import { releaseFreePages, sqliteSize, vacuum } from './sqlite-space.js';
import { acquireLock, lockKey, type LockOptions, type LockRow } from './store-lock.js';
import { encodeCursor, idOf, indexKeys, indexRange, inRange, staleIndexKeys, type IndexRange } from './task-index.js';

/** Records per batch of the v2 → v3 migration (four entries each at most). */
const migrationChunk = 1000;

/** How a {@link KeyvTaskStore} is set up. */
export interface KeyvTaskStoreOptions {
  /** The file or URI of the store, named in every `StoreError`. */
  location: string;
  /** Whether `close()` also disconnects the Keyv instance (true when k8s-jobs opened it). */
  ownsKeyv: boolean;
  /** Clock for `updatedAt` stamps (epoch ms). @default Date.now */
  now?: () => number;
  /** Tasks whose transition history is kept in memory. @default 10000 */
  historyCacheSize?: number;
  /**
   * Take the store's owner lock (`store-lock.ts`) as `owner`, renew it while open, release it on
   * `close()`. Runners do; tools that only read or seed a store do not.
   */
  lock?: LockOptions & { owner: string };
  /**
   * Open without writing anything (no schema stamp, no lock, no migration): for tools that read a
   * store a runner may be using right now (the CLI's `list`, `show`, `logs`). Writes then reject
   * with `StoreError`. Cannot be combined with `lock`.
   */
  readOnly?: boolean;
}

/**
 * The task store. Obtain one with `openTaskStore` (or {@link KeyvTaskStore.open} over your own
 * Keyv instance).
 *
 * Durability: `saveTask` and `putLogSnapshot` resolve once the batch holding their entries has been
 * accepted by the adapter — for SQLite, once its transaction has committed. Values are captured by
 * reference until their batch is written: do not mutate a record after passing it.
 */
export class KeyvTaskStore implements TaskStore {
  readonly #access: KeyvAccess;
  /** Point reads coalesced per turn (SQLite, PostgreSQL): see `read-batcher.ts`. */
  readonly #reads: ReadBatcher | undefined;
  readonly #commit: GroupCommit;
  readonly #histories: BoundedCache<string, readonly Transition[]>;
  /** Per task, the promise its next save must wait for while an earlier one reads its history. */
  readonly #gates = new Map<string, Promise<void>>();
  readonly #now: () => number;
  /**
   * The state each task neither `queued` nor `deleted` was last saved with by this instance, so that
   * a state change removes exactly its old `idx:state:` key. A queued task is not held: the save
   * that takes it out of `queued` names that state as its transition's `from` (a task found in
   * neither has all other states' keys removed once). Proportional to the started tasks written
   * since open: 100,000 queued tasks hold nothing here.
   */
  readonly #indexedStates = new Map<string, TaskState>();
  /**
   * Whether the store holds the listing index: false only for a read-only open of a store older
   * than v3, which `listTasks` then pages through a full scan.
   */
  #indexed = true;
  /** Whether the store holds the retention index: false only for a read-only open of a store older than v4. */
  #retentionIndexed = true;
  #heartbeat: NodeJS.Timeout | undefined;
  #closing: Promise<void> | undefined;

  private constructor(
    /** The Keyv instance underneath (for what the task store does not cover yet: indexes, locks). */
    readonly keyv: Keyv,
    private readonly options: KeyvTaskStoreOptions,
  ) {
    this.#access = createKeyvAccess(keyv);
    this.#commit = new GroupCommit((entries) => this.#access.write(entries), options.location);
    // SQL stores answer many keys in one query; other adapters are read key by key as before.
    if (this.#access.mode !== 'set-many') this.#reads = new ReadBatcher((keys) => this.#access.readMany(keys));
    this.#histories = new BoundedCache(options.historyCacheSize ?? 10_000);
    this.#now = options.now ?? Date.now;
  }

  /** Opens a task store over `keyv`: checks (or records) the schema version, which also proves it writable. */
  static async open(keyv: Keyv, options: KeyvTaskStoreOptions): Promise<KeyvTaskStore> {
    const store = new KeyvTaskStore(keyv, options);
    if (options.readOnly) {
      if (options.lock) throw new RangeError('a read-only task store cannot take the lock');
      // Any version this code reads without migrating (v1 and up): nothing is written.
      const found = checkSchema(await store.#read(schemaKey), options.location);
      store.#indexed = (found?.schemaVersion ?? storeSchemaVersion) >= 3;
      store.#retentionIndexed = (found?.schemaVersion ?? storeSchemaVersion) >= 4;
      return store;
    }
    await ensureSchema(
      {
        read: (key) => store.#read(key),
        write: (key, value) => store.#commit.enqueue([[key, value]]),
        migrate: (from) => store.#migrate(from),
      },
      options.location,
      store.#isoNow(),
    );
    if (options.lock) await store.#lock(options.lock);
    return store;
  }

  async #lock({
    owner,
    heartbeatMs = 5000,
    staleAfterMs = 3 * heartbeatMs,
    now = this.#now,
  }: LockOptions & { owner: string }): Promise<void> {
    try {
      await acquireLock(this.keyv, owner, this.options.location, { staleAfterMs, now });
    } catch (err) {
      if (err instanceof StoreError) throw err;
      throw new StoreError(`taking the store's lock failed: ${messageOf(err)}`, this.options.location, { cause: err });
    }
    // A failed heartbeat fails the write queue for good: the owner's next save rejects with it.
    this.#heartbeat = setInterval(() => {
      this.#commit.enqueue([[lockKey, { owner, heartbeatAt: now() } satisfies LockRow]]).catch(() => undefined);
    }, heartbeatMs);
    this.#heartbeat.unref();
  }

  /**
   * v1 → v2: builds the open-task index from the records (queue order = creation order). v2 → v3:
   * builds the listing index from the records, in batches of {@link migrationChunk} records. v3 → v4:
   * builds the retention index from the finished records (found through the listing index).
   */
  async #migrate(from: number): Promise<void> {
    if (from === 3) return this.#migrateToRetentionIndex();
    if (from === 2) {
      // SQLite reads the records a chunk at a time (memory stays bounded); other adapters scan once.
      const sqlite = this.#access.mode === 'sqlite-transaction';
      let after: string | undefined;
      for (;;) {
        const chunk = sqlite
          ? await this.#access.range(taskPrefix, after, migrationChunk)
          : after === undefined
            ? await this.#access.scan(taskPrefix)
            : [];
        const [lastKey] = chunk.at(-1) ?? [];
        if (lastKey === undefined) return;
        after = lastKey;
        const records = chunk.map(([, value]) => (value as TaskEnvelope).record);
        await this.#commit.enqueue(records.flatMap((record) => indexKeys(record).map((key): [string, 1] => [key, 1])));
      }
    }
    if (from !== 1) throw new Error(`no migration from schema v${from}`);
    const envelopes = (await this.#access.scan(taskPrefix)).map(([, value]) => value as TaskEnvelope);
    const open = envelopes
      .filter((e) => e.record.state !== 'deleted')
      .sort((a, b) => (a.record.createdAt < b.record.createdAt ? -1 : a.record.createdAt > b.record.createdAt ? 1 : 0));
    await this.#commit.enqueue(
      open.map((e, seq): [string, OpenEntry] => [openKey(e.record.id), { priority: e.record.spec.priority ?? 0, seq }]),
    );
  }

  /** v3 → v4: a retention key for every `deleted` record, read a chunk at a time on SQLite. */
  async #migrateToRetentionIndex(): Promise<void> {
    const prefix = indexRange({ state: 'deleted', limit: 1 }).prefix;
    const sqlite = this.#access.mode === 'sqlite-transaction';
    let after: string | undefined;
    for (;;) {
      const chunk = sqlite
        ? (await this.#access.range(prefix, after, migrationChunk)).map(([key]) => key)
        : after === undefined
          ? (await this.#access.scan(prefix)).map(([key]) => key)
          : [];
      const lastKey = chunk.at(-1);
      if (lastKey === undefined) return;
      after = lastKey;
      const envelopes = await this.#access.readMany(chunk.map((key) => taskKey(idOf(key, prefix))));
      const keys = [...envelopes.values()].flatMap((value) => finishedKey((value as TaskEnvelope).record) ?? []);
      await this.#commit.enqueue(keys.map((key): [string, 1] => [key, 1]));
    }
  }

  /**
   * Removes one batch of finished tasks of `query.outcome` (see `TaskStore.purgeFinished`). Reads
   * the retention index without waiting for queued writes (a task finished a moment ago is simply
   * not a candidate yet), then queues every key of each candidate as one batch; a candidate with a
   * write of its own still queued (an id used again, say) is left for a later call.
   */
  async purgeFinished(query: PurgeQuery): Promise<PurgeResult> {
    this.#assertOpen('purgeFinished');
    const { outcome, finishedBefore, keepNewest, limit, dryRun } = checkPurgeQuery(query);
    if (this.options.readOnly && !dryRun) throw this.#readOnlyError('purgeFinished');
    if (!this.#retentionIndexed) {
      throw new StoreError(
        'the store predates the retention index (schema v4): open it once for writing (a runner, or purge without --dry-run) to migrate it',
        this.options.location,
      );
    }
    const prefix = finishedOutcomePrefix(outcome);
    const candidates = new Set<string>();
    let records: Map<string, unknown>;
    try {
      if (finishedBefore !== undefined) {
        const bound = finishedBound(prefix, finishedBefore);
        for (const [key] of await this.#access.range(prefix, undefined, limit)) {
          if (key >= bound) break;
          candidates.add(key);
        }
      }
      if (keepNewest !== undefined && candidates.size < limit) {
        for (const key of await this.#beforeLast(prefix, keepNewest, limit)) {
          if (candidates.size >= limit) break;
          candidates.add(key);
        }
      }
      records = await this.#access.readMany([...candidates].map((key) => taskKey(finishedIdOf(key, prefix))));
    } catch (err) {
      throw new StoreError(
        `finding finished ${outcome} tasks to purge failed: ${messageOf(err)}`,
        this.options.location,
        {
          cause: err,
        },
      );
    }
    const more = candidates.size >= limit;
    const ids: string[] = [];
    const entries: Array<[string, unknown]> = [];
    // From here to the enqueue nothing awaits: no save of these ids can slip in between.
    for (const key of [...candidates].sort()) {
      const id = finishedIdOf(key, prefix);
      if (this.#gates.has(id) || this.#indexedStates.has(id) || this.#commit.peek(taskKey(id))) continue;
      const record = (records.get(taskKey(id)) as TaskEnvelope | undefined)?.record;
      // A key whose task is gone or open again (its id used anew) is a stray key: only it goes.
      if (record?.state !== 'deleted') {
        entries.push([key, removal]);
        continue;
      }
      ids.push(id);
      for (const taskEntry of [key, ...keysOfTask(record)]) entries.push([taskEntry, removal]);
    }
    if (dryRun || entries.length === 0) return { ids, more };
    for (const id of ids) this.#histories.delete(id);
    await this.#commit.enqueue(entries);
    return { ids, more };
  }

  /** The keys with `prefix` but the `skip` last ones, at most `limit`, last first. */
  async #beforeLast(prefix: string, skip: number, limit: number): Promise<string[]> {
    if (this.#access.beforeLast) return this.#access.beforeLast(prefix, skip, limit);
    const keys = (await this.#access.scan(prefix)).map(([key]) => key);
    return keys
      .slice(0, Math.max(0, keys.length - skip))
      .reverse()
      .slice(0, limit);
  }

  async claimTask(id: string, fingerprint: string): Promise<string> {
    this.#assertOpen('claimTask');
    if (this.options.readOnly) throw this.#readOnlyError('claimTask');
    const access = this.#access;
    if (!access.claim) return fingerprint;
    try {
      const held = (await access.claim(claimKey(id), { fingerprint } satisfies TaskClaim)) as TaskClaim | undefined;
      return held?.fingerprint ?? fingerprint;
    } catch (err) {
      throw new StoreError(`claiming task id "${id}" failed: ${messageOf(err)}`, this.options.location, { cause: err });
    }
  }

  requestCancel(request: CancelRequest): Promise<void> {
    if (this.#closing) return Promise.reject(this.#closedError('requestCancel'));
    if (this.options.readOnly) return Promise.reject(this.#readOnlyError('requestCancel'));
    return this.#commit.enqueue([[cancelKey(request.taskId), request]]);
  }

  async listCancelRequests(): Promise<CancelRequest[]> {
    this.#assertOpen('listCancelRequests');
    try {
      const found = await this.#access.scan(cancelPrefix);
      return found.map(([, value]) => value as CancelRequest);
    } catch (err) {
      throw new StoreError(`reading the cancel requests failed: ${messageOf(err)}`, this.options.location, {
        cause: err,
      });
    }
  }

  clearCancelRequests(taskIds: readonly string[]): Promise<void> {
    if (this.#closing) return Promise.reject(this.#closedError('clearCancelRequests'));
    if (taskIds.length === 0) return Promise.resolve();
    return this.#commit.enqueue(taskIds.map((id): [string, unknown] => [cancelKey(id), removal]));
  }

  resetCaches(): void {
    this.#histories.clear();
    this.#indexedStates.clear();
  }

  /** SQLite: the database's bytes and free bytes; other stores, and a closed store: nothing known. */
  async size(): Promise<StoreSize> {
    // A scrape after shutdown is no error: a closed store just has nothing to say.
    if (this.#closing) return {};
    const sqlite = this.#sqlite();
    if (!sqlite) return {};
    try {
      return await sqliteSize(sqlite);
    } catch (err) {
      throw new StoreError(`reading the store's size failed: ${messageOf(err)}`, this.options.location, { cause: err });
    }
  }

  /** SQLite: `PRAGMA incremental_vacuum(maxPages)` (free pages back to the file system); else nothing. */
  async releaseSpace(maxPages = 1000): Promise<void> {
    this.#assertOpen('releaseSpace');
    const sqlite = this.#sqlite();
    if (!sqlite || this.options.readOnly) return;
    try {
      await releaseFreePages(sqlite, maxPages);
    } catch (err) {
      throw new StoreError(`releasing free pages failed: ${messageOf(err)}`, this.options.location, { cause: err });
    }
  }

  /**
   * SQLite: rewrites the file with `VACUUM`, in incremental auto-vacuum mode from then on (how a
   * store created before v4 gets it). Takes time and disk space of about the file's size: for
   * maintenance (`k8s-jobs purge --vacuum`), with the store to itself. Other stores: nothing.
   */
  async vacuum(): Promise<void> {
    this.#assertOpen('vacuum');
    const sqlite = this.#sqlite();
    if (!sqlite) return;
    if (this.options.readOnly) throw this.#readOnlyError('vacuum');
    await this.#commit.drain();
    try {
      await vacuum(sqlite);
    } catch (err) {
      throw new StoreError(`vacuuming the store failed: ${messageOf(err)}`, this.options.location, { cause: err });
    }
  }

  #sqlite(): KeyvSqlite | undefined {
    const store: unknown = this.keyv.store;
    return isKeyvSqlite(store) ? store : undefined;
  }

  /**
   * Every task not yet `deleted` (those in the open-task index), by priority (highest first) then
   * enqueue sequence. Reads the index with one prefix scan and the records by key.
   */
  async listOpenTasks(): Promise<OpenTask[]> {
    this.#assertOpen('listOpenTasks');
    await this.#commit.drain();
    try {
      const index = await this.#access.scan(openPrefix);
      const ids = index.map(([key]) => key.slice(openPrefix.length));
      const envelopes = await this.#access.readMany(ids.map(taskKey));
      const open: OpenTask[] = [];
      index.forEach(([, value], i) => {
        const id = ids[i] as string;
        const envelope = envelopes.get(taskKey(id)) as TaskEnvelope | undefined;
        // An index entry without its record cannot be written by this code (same batch); skip it.
        if (!envelope || envelope.record.state === 'deleted') return;
        const { priority, seq } = value as OpenEntry;
        open.push({
          record: envelope.record,
          ...(envelope.context ? { context: envelope.context } : {}),
          priority,
          seq,
        });
      });
      return open.sort((a, b) => b.priority - a.priority || a.seq - b.seq);
    } catch (err) {
      throw new StoreError(`reading the open tasks failed: ${messageOf(err)}`, this.options.location, { cause: err });
    }
  }

  /**
   * One page of task records, newest first (`createdAt`, then id), `deleted` ones included unless
   * filtered out, after pending writes are flushed: one range read of the listing index
   * (`task-index.ts`) and the page's records by key. A record that changed state between the two
   * reads is left out, so a page may hold fewer than `limit` items; `nextCursor` is absent only on
   * the last page. Tasks added after the first page sort before it: a cursor never repeats or
   * skips a task that stays in the list.
   */
  async listTasks(query: TaskListQuery = {}): Promise<TaskPage> {
    this.#assertOpen('listTasks');
    const range = indexRange(query);
    await this.#commit.drain();
    let keys: string[];
    let records: TaskRecord[];
    try {
      keys = this.#indexed
        ? (await this.#access.range(range.prefix, range.after, range.limit + 1)).map(([key]) => key)
        : await this.#scanRange(range);
      const ids = keys.slice(0, range.limit).map((key) => idOf(key, range.prefix));
      const envelopes = await this.#access.readMany(ids.map(taskKey));
      // In index order; an entry without its record cannot be written by this code (same batch).
      records = ids.flatMap((id) => {
        const envelope = envelopes.get(taskKey(id)) as TaskEnvelope | undefined;
        return envelope ? [envelope.record] : [];
      });
    } catch (err) {
      throw new StoreError(`reading the tasks failed: ${messageOf(err)}`, this.options.location, { cause: err });
    }
    const last = keys[range.limit - 1];
    return {
      items: records.filter((record) => inRange(record, range)),
      ...(keys.length > range.limit && last !== undefined ? { nextCursor: encodeCursor(range.prefix, last) } : {}),
    };
  }

  /** The keys `range` would read from the listing index, for a store without one (read-only, before v3). */
  async #scanRange(range: IndexRange): Promise<string[]> {
    const keys = (await this.#access.scan(taskPrefix))
      .flatMap(([, value]) => indexKeys((value as TaskEnvelope).record))
      .filter((key) => key.startsWith(range.prefix) && (range.after === undefined || key > range.after))
      .sort();
    return keys.slice(0, range.limit + 1);
  }

  /** How batches reach the adapter: one SQLite transaction, or Keyv's `setMany`. */
  get batchMode(): BatchMode {
    return this.#access.mode;
  }

  /**
   * Stores the record and appends the transition to the task's history, in one batch. A transition
   * from `null` (the task's first) starts a new history when none is in memory, without reading one.
   */
  saveTask(record: TaskRecord, transition?: Transition, extras: SaveExtras = {}): Promise<void> {
    if (this.#closing) return Promise.reject(this.#closedError('saveTask'));
    if (this.options.readOnly) return Promise.reject(this.#readOnlyError('saveTask'));
    if (transition && transition.taskId !== record.id) {
      return Promise.reject(
        new RangeError(`transition of task "${transition.taskId}" passed with the record of task "${record.id}"`),
      );
    }
    const id = record.id;
    const gate = this.#gates.get(id);
    if (!gate && !this.#mustLoadHistory(id, transition)) return this.#enqueueSave(record, transition, extras);

    let durable: Promise<void> | undefined;
    const enqueued = (gate ?? Promise.resolve()).then(async () => {
      if (this.#mustLoadHistory(id, transition)) {
        const envelope = (await this.#read(transitionsKey(id))) as TransitionsEnvelope | undefined;
        this.#histories.set(id, envelope?.transitions ?? []);
      }
      durable = this.#enqueueSave(record, transition, extras);
    });
    this.#gates.set(id, enqueued);
    const release = (): void => {
      if (this.#gates.get(id) === enqueued) this.#gates.delete(id);
    };
    enqueued.then(release, release);
    return enqueued.then(() => durable);
  }

  /** Every save's entries in one `GroupCommit.enqueue` call, which is never split: one batch, one transaction. */
  async saveNewTasks(saves: readonly TaskSave[]): Promise<void> {
    if (this.#closing) throw this.#closedError('saveNewTasks');
    if (this.options.readOnly) throw this.#readOnlyError('saveNewTasks');
    for (const { record, transition } of saves) {
      if (transition && (transition.taskId !== record.id || transition.from !== null)) {
        throw new RangeError(`saveNewTasks takes first saves only: transition of task "${transition.taskId}"`);
      }
    }
    // A save of the same id still waiting for its history goes first (a new task has none).
    await Promise.all(saves.flatMap(({ record }) => this.#gates.get(record.id) ?? []));
    const entries = saves.flatMap(({ record, transition, extras }) => this.#saveEntries(record, transition, extras));
    await this.#commit.enqueue(entries);
  }

  async getTask(id: string): Promise<TaskRecord | undefined> {
    this.#assertOpen('getTask');
    const settling = this.#settled(id);
    if (settling) await settling;
    const envelope = (await this.#read(taskKey(id))) as TaskEnvelope | undefined;
    return envelope?.record;
  }

  async getTransitions(id: string): Promise<Transition[]> {
    this.#assertOpen('getTransitions');
    const settling = this.#settled(id);
    if (settling) await settling;
    const cached = this.#histories.get(id);
    if (cached) return [...cached];
    const envelope = (await this.#read(transitionsKey(id))) as TransitionsEnvelope | undefined;
    return [...(envelope?.transitions ?? [])];
  }

  putLogSnapshot(snapshot: LogSnapshot): Promise<void> {
    if (this.#closing) return Promise.reject(this.#closedError('putLogSnapshot'));
    if (this.options.readOnly) return Promise.reject(this.#readOnlyError('putLogSnapshot'));
    return this.#commit.enqueue(logSnapshotEntries(snapshot, storeSchemaVersion, this.#isoNow()));
  }

  async getLogSnapshot(taskId: string): Promise<LogSnapshot | undefined> {
    this.#assertOpen('getLogSnapshot');
    return readLogSnapshot(taskId, (key) => this.#read(key));
  }

  /**
   * Writes everything already queued (failures reach the callers that queued them), then
   * disconnects the Keyv instance if k8s-jobs opened it. Later calls reject with a `StoreError`.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    // Saves waiting for a history read still belong to the batches before close.
    await Promise.allSettled([...this.#gates.values()]);
    if (this.#heartbeat) {
      clearInterval(this.#heartbeat);
      // After a failed write this rejects like every later write; the lock then goes stale.
      this.#commit.enqueue([[lockKey, removal]]).catch(() => undefined);
    }
    await Promise.all([this.#commit.drain(), this.#reads?.drain()]);
    if (!this.options.ownsKeyv) return;
    try {
      await this.keyv.disconnect();
    } catch (err) {
      throw new StoreError(`closing the store failed: ${messageOf(err)}`, this.options.location, { cause: err });
    }
  }

  #mustLoadHistory(id: string, transition: Transition | undefined): boolean {
    return transition !== undefined && transition.from !== null && this.#histories.get(id) === undefined;
  }

  /** Queues the task's entries; the history (if a transition is given) is in memory by now. */
  #enqueueSave(record: TaskRecord, transition: Transition | undefined, extras: SaveExtras): Promise<void> {
    return this.#commit.enqueue(this.#saveEntries(record, transition, extras));
  }

  /** The entries of one save (and the in-memory index state and history it implies). */
  #saveEntries(
    record: TaskRecord,
    transition: Transition | undefined,
    extras: SaveExtras = {},
  ): Array<[string, unknown]> {
    const updatedAt = this.#isoNow();
    const task: TaskEnvelope = {
      schemaVersion: storeSchemaVersion,
      updatedAt,
      record,
      ...(extras.context ? { context: extras.context } : {}),
    };
    const entries: Array<[string, unknown]> = [[taskKey(record.id), task]];
    if (record.state === 'deleted') entries.push([openKey(record.id), removal]);
    else if (extras.queue) entries.push([openKey(record.id), extras.queue]);
    // The listing index moves in the same batch as the record. A task's first transition means
    // no earlier key can exist.
    const previous = transition?.from === null ? record.state : this.#previousState(record.id, transition);
    for (const key of staleIndexKeys(record, previous)) entries.push([key, removal]);
    for (const key of indexKeys(record)) entries.push([key, 1]);
    if (record.state === 'deleted' || record.state === 'queued') this.#indexedStates.delete(record.id);
    else this.#indexedStates.set(record.id, record.state);
    if (transition) {
      // A new array each time: the previous one may be part of a batch still being serialized.
      const transitions = [...(this.#histories.get(record.id) ?? []), transition];
      this.#histories.set(record.id, transitions);
      const history: TransitionsEnvelope = { schemaVersion: storeSchemaVersion, updatedAt, transitions };
      entries.push([transitionsKey(record.id), history]);
    }
    if (record.state === 'deleted') this.#histories.delete(record.id);
    return entries;
  }

  /**
   * The state a task's index keys were last written with, when known: the one this instance saved,
   * else `queued` when the transition leaves it (a queued task, added here or stored before a
   * restart, is not held in `#indexedStates`, and the task machine's `from` is the state the task
   * was resumed in or last saved with).
   */
  #previousState(id: string, transition: Transition | undefined): TaskState | undefined {
    return this.#indexedStates.get(id) ?? (transition?.from === 'queued' ? 'queued' : undefined);
  }

  /** The newest value of `key`: queued or in flight first, else the adapter's. */
  async #read(key: string): Promise<unknown> {
    const pending = this.#commit.peek(key);
    if (pending) return pending.value === removal ? undefined : pending.value;
    try {
      return await (this.#reads ? this.#reads.read(key) : this.#access.read(key));
    } catch (err) {
      throw new StoreError(`reading "${key}" failed: ${messageOf(err)}`, this.options.location, { cause: err });
    }
  }

  /**
   * What to wait for until saves of this task queued so far have reached the write queue
   * (read-your-writes); `undefined` when none is held up, as for nearly every read: a read then
   * goes on in the same step instead of through one more promise (every `addTask` reads its id).
   */
  #settled(id: string): Promise<unknown> | undefined {
    const gate = this.#gates.get(id);
    // Their failures belong to the saves' callers; a read only needs their order.
    return gate && Promise.allSettled([gate]);
  }

  #assertOpen(operation: string): void {
    if (this.#closing) throw this.#closedError(operation);
  }

  #closedError(operation: string): StoreError {
    return new StoreError(`the store is closed: ${operation} rejected`, this.options.location);
  }

  #readOnlyError(operation: string): StoreError {
    return new StoreError(`the store was opened read-only: ${operation} rejected`, this.options.location);
  }

  #isoNow(): string {
    return new Date(this.#now()).toISOString();
  }
}
