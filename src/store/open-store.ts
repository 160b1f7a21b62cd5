/**
 * Turns the runner's `store` option into an open {@link KeyvTaskStore}.
 */
import { existsSync } from 'node:fs';
import Keyv from 'keyv';
import { messageOf, StoreError } from '../errors.js';
import { KeyvTaskStore } from './keyv-task-store.js';
import { storeNamespace } from './layout.js';
import {
  describePostgres,
  isKeyvPostgres,
  isPostgresUrl,
  openFailure,
  openOwnedPostgres,
  parsePostgresUrl,
  preparePostgresTable,
  tableOf,
  type PostgresQuery,
} from './postgres-adapter.js';
import { isKeyvSqlite, loadKeyvSqlite } from './sqlite-adapter.js';
import { enableIncrementalVacuumIfEmpty } from './sqlite-space.js';
import type { LockOptions } from './store-lock.js';

/** The store used when the option is omitted. */
export const defaultStoreUri = 'sqlite://./k8s-jobs.sqlite';

/**
 * How long a statement waits for a lock held by another connection before failing with
 * `SQLITE_BUSY` (node-sqlite3's own default is 1 s).
 */
export const sqliteBusyTimeoutMs = 5000;

/** Rows per page when iterating `@keyv/sqlite` (its default, 10, makes iteration quadratic). */
export const sqliteIterationLimit = 1000;

/** Tuning shared by every kind of store. */
export interface OpenTaskStoreOptions {
  /** Clock for `updatedAt` stamps (epoch ms). @default Date.now */
  now?: () => number;
  /** Tasks whose transition history is kept in memory. @default 10000 */
  historyCacheSize?: number;
  /** SQLite only: how long a statement waits for another connection's lock before `SQLITE_BUSY`. @default 5000 */
  busyTimeoutMs?: number;
  /** Take the store's owner lock (see `KeyvTaskStoreOptions.lock`). */
  lock?: LockOptions & { owner: string };
  /**
   * Read without writing (see `KeyvTaskStoreOptions.readOnly`), e.g. while a runner holds the
   * store. A SQLite file that does not exist is then an error instead of being created.
   */
  readOnly?: boolean;
}

/**
 * Opens the task store.
 * - `'sqlite://<path>'` (default `sqlite://./k8s-jobs.sqlite`): `@keyv/sqlite` on that file, in WAL
 *   mode with `synchronous=NORMAL` and a 5 s busy timeout; the file is created if missing, its
 *   directory is not.
 * - `'postgres://user@host:5432/db?schema=name'` (or `postgresql://`): `@keyv/postgres` on the
 *   table `keyv` of that schema (default `public`), both created on first use; a batch of writes
 *   is one transaction. The password never appears in an error (the URL is shown with `***`).
 * - `'memory://'`: Keyv over a `Map` (nothing survives the process).
 * - a Keyv instance: used as is (its settings are not changed, and `close()` leaves it connected).
 *   Over `@keyv/postgres` its table is checked (and, unless read-only, given the index range reads
 *   need) first.
 *
 * @throws {StoreError} with the location and the cause when the store cannot be opened, read or
 *   written (missing directory, a file that is not a database, a newer schema...).
 * @example
 * const store = await openTaskStore('sqlite:///var/lib/app/jobs.sqlite');
 */
export async function openTaskStore(
  option: string | Keyv | undefined,
  options: OpenTaskStoreOptions = {},
): Promise<KeyvTaskStore> {
  const target = option ?? defaultStoreUri;
  if (typeof target !== 'string') {
    const location = describeKeyv(target);
    const store: unknown = target.store;
    if (isKeyvPostgres(store)) {
      const [schema, table] = tableOf(store, location).split('.') as [string, string];
      try {
        await preparePostgresTable(
          store.query as PostgresQuery,
          { schema, table },
          location,
          options.readOnly ?? false,
        );
      } catch (err) {
        throw err instanceof StoreError
          ? err
          : new StoreError(`cannot open the PostgreSQL store: ${messageOf(err)}`, location, { cause: err });
      }
    }
    return KeyvTaskStore.open(target, { ...options, location, ownsKeyv: false });
  }
  if (target === 'memory://') {
    return KeyvTaskStore.open(new Keyv({ store: new Map(), namespace: storeNamespace, throwOnErrors: true }), {
      ...options,
      location: target,
      ownsKeyv: true,
    });
  }
  if (target.startsWith('sqlite://')) return openSqlite(target.slice('sqlite://'.length), options);
  if (isPostgresUrl(target)) return openPostgres(target, options);
  throw new StoreError(
    'unsupported store URI: expected "sqlite://<path>", "postgres://<user>@<host>/<database>" or "memory://"',
    target,
  );
}

async function openSqlite(path: string, options: OpenTaskStoreOptions): Promise<KeyvTaskStore> {
  if (path === '') throw new StoreError('the SQLite URI has no path', 'sqlite://');
  if (options.readOnly && !existsSync(path)) throw new StoreError('no store file at this path', path);
  const KeyvSqlite = await loadKeyvSqlite();
  const sqlite = new KeyvSqlite({
    uri: `sqlite://${path}`,
    busyTimeout: options.busyTimeoutMs ?? sqliteBusyTimeoutMs,
    iterationLimit: sqliteIterationLimit,
  });
  const keyv = new Keyv({ store: sqlite, namespace: storeNamespace, throwOnErrors: true });
  try {
    // Per connection: WAL persists in the file, `synchronous` does not. With WAL + NORMAL a
    // commit survives a crash of the process (not necessarily of the machine) without an fsync.
    // A reader leaves the journal mode to the writers (changing it needs a write).
    if (!options.readOnly) await sqlite.query('PRAGMA journal_mode=WAL');
    // A new file gets incremental auto-vacuum, so purged space can go back to the file system
    // (`sqlite-space.ts`); an existing file keeps its mode until `k8s-jobs purge --vacuum`.
    if (!options.readOnly) await enableIncrementalVacuumIfEmpty(sqlite);
    await sqlite.query('PRAGMA synchronous=NORMAL');
    return await KeyvTaskStore.open(keyv, { ...options, location: path, ownsKeyv: true });
  } catch (err) {
    const failure =
      err instanceof StoreError
        ? err
        : new StoreError(`cannot open the SQLite store: ${messageOf(err)}`, path, { cause: err });
    try {
      await keyv.disconnect();
    } catch (closeErr) {
      // The adapter's close replays its connection error when the connection never opened.
      if (closeErr !== err && closeErr !== failure.cause) {
        throw new StoreError(
          `cannot open the SQLite store (${messageOf(err)}), nor close it (${messageOf(closeErr)})`,
          path,
          { cause: new AggregateError([err, closeErr]) },
        );
      }
    }
    throw failure;
  }
}

/**
 * Opens a `postgres://` store: its own pool, the schema and table made ready, then the task
 * store. The store's location in every message is the URL with its password redacted.
 */
async function openPostgres(uri: string, options: OpenTaskStoreOptions): Promise<KeyvTaskStore> {
  const target = parsePostgresUrl(uri);
  const readOnly = options.readOnly ?? false;
  const { adapter, pool } = await openOwnedPostgres(target, readOnly);
  const keyv = new Keyv({ store: adapter, namespace: storeNamespace, throwOnErrors: true });
  try {
    // On the pool itself: the adapter's `query` skips CREATE statements (see `openOwnedPostgres`).
    await preparePostgresTable(
      async (sql, values) => (await pool.query(sql, values)).rows as unknown[],
      { schema: target.schema, table: adapter.opts.table ?? 'keyv' },
      target.location,
      readOnly,
    );
    return await KeyvTaskStore.open(keyv, { ...options, location: target.location, ownsKeyv: true });
  } catch (err) {
    const failure = openFailure(err, target);
    try {
      await pool.end();
    } catch (closeErr) {
      throw new StoreError(
        `cannot open the PostgreSQL store (${messageOf(failure.cause ?? failure)}), nor close its pool`,
        target.location,
        { cause: new AggregateError([failure, closeErr]) },
      );
    }
    throw failure;
  }
}

function describeKeyv(keyv: Keyv): string {
  const store: unknown = keyv.store;
  const kind = isKeyvSqlite(store)
    ? `sqlite:${store.opts.db ?? '?'}`
    : isKeyvPostgres(store)
      ? `postgres:${describePostgres(store)}`
      : store instanceof Map
        ? 'Map'
        : ((store as object | undefined)?.constructor.name ?? 'unknown');
  return `keyv(${kind}, namespace ${keyv.namespace ?? '(none)'})`;
}
