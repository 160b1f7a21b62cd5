/**
 * Raw reads and batched writes over any Keyv instance, with errors always surfacing. Keyv itself
 * swallows store errors unless `throwOnErrors` is set (`set` → `false`, `get` → `undefined`), and
 * the instance may be the application's own: we neither trust nor change its setting. Reads go to
 * the adapter directly (its errors propagate) and are decoded with the instance's own
 * deserializer; writes check every result Keyv returns.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type Keyv from 'keyv';
import { keyvValueSerializer } from './keyv-serialize.js';
import { createPostgresAccess } from './postgres-access.js';
import { isKeyvPostgres } from './postgres-adapter.js';
import { isKeyvSqlite } from './sqlite-adapter.js';
import { upsertRows, type UpsertRows } from './sqlite-upsert.js';

/** A batch value that deletes its key (in the same transaction as the batch's upserts, on SQLite). */
export const removal: unique symbol = Symbol('k8s-jobs.store.removal');

/** How a batch reaches the adapter. */
export type BatchMode = 'sqlite-transaction' | 'postgres-transaction' | 'set-many';

/** Narrow access to one Keyv instance. Methods throw the adapter's own errors. */
export interface KeyvAccess {
  readonly mode: BatchMode;
  /** The stored value (what was passed to `write`), or `undefined`. */
  read(key: string): Promise<unknown>;
  /** The stored values of `keys` (absent ones are left out). */
  readMany(keys: readonly string[]): Promise<Map<string, unknown>>;
  /**
   * Every `[key, value]` whose key starts with `prefix`, ordered by key: SQLite and PostgreSQL answer
   * with one range query, a `Map` is iterated, other adapters go through Keyv's iterator.
   */
  scan(prefix: string): Promise<Array<[key: string, value: unknown]>>;
  /**
   * The first `limit` `[key, value]` whose key starts with `prefix` and sorts after `after` (when
   * given), ordered by key: SQLite answers with one range query on its primary key, other adapters
   * filter a {@link KeyvAccess.scan} (correct, not fast: for tests and small stores).
   */
  range(prefix: string, after: string | undefined, limit: number): Promise<Array<[key: string, value: unknown]>>;
  /**
   * The keys with `prefix` but the `skip` last ones (by key), at most `limit`, last first: SQLite
   * answers with one range query on its primary key (`ORDER BY key DESC … OFFSET skip`). Optional:
   * without it the task store filters a {@link KeyvAccess.scan}.
   */
  beforeLast?(prefix: string, skip: number, limit: number): Promise<string[]>;
  /**
   * Stores `value` under `key` unless the key exists, at once (not in a batch); resolves with the
   * value the key holds afterwards (`value`, or the one stored first). Optional: only a store
   * several processes share needs it (PostgreSQL).
   */
  claim?(key: string, value: unknown): Promise<unknown>;
  /**
   * Writes every entry (a {@link removal} value deletes the key); with `sqlite-transaction` or
   * `postgres-transaction`, atomically. Rejects if any write failed.
   */
  write(entries: ReadonlyMap<string, unknown>): Promise<void>;
}

/**
 * Retries of a batch that failed with `SQLITE_BUSY` (each attempt first waits the connection's busy
 * timeout): capped exponential back-off, about 5 s of pauses in all before the failure is final.
 */
export const busyRetry = { attempts: 8, baseMs: 25, maxMs: 2000 } as const;

/** Whether `err` (or what it wraps) is SQLite's "database is locked". */
function isBusy(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if ((e as NodeJS.ErrnoException).code === 'SQLITE_BUSY') return true;
    if (e instanceof AggregateError && e.errors.some(isBusy)) return true;
  }
  return false;
}

/** Keys are compared as text: every key with the prefix sorts in [prefix, prefix with its last character + 1). */
const upperBound = (prefix: string): string =>
  prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);

/** Keys per `IN (…)` list of a SQLite read (bound parameters stay far below SQLite's limit). */
const keysPerRead = 500;

/** Wraps `keyv`; `@keyv/sqlite` adapters get one multi-row transaction per batch, others `setMany`. */
export function createKeyvAccess(keyv: Keyv): KeyvAccess {
  const store: unknown = keyv.store;
  const sqlite = isKeyvSqlite(store) ? store : undefined;

  // Keyv's `_getKeyPrefix`, reproduced exactly (including keys that already start with the
  // namespace) so that rows we write are the rows `keyv.get` finds.
  const prefixed = (key: string): string => {
    const namespace = keyv.namespace;
    if (!keyv.useKeyPrefix || !namespace || key.startsWith(`${namespace}:`)) return key;
    return `${namespace}:${key}`;
  };

  const read = async (key: string): Promise<unknown> =>
    decode(await (keyv.store as { get(key: string): unknown }).get(prefixed(key)));

  const decode = async (raw: unknown): Promise<unknown> => {
    if (raw === undefined || raw === null) return undefined;
    const data =
      typeof raw === 'string' || keyv.opts.compression ? await keyv.deserializeData(raw) : (raw as { value?: unknown });
    return data?.value;
  };
  const unprefixed = (key: string): string =>
    keyv.useKeyPrefix && keyv.namespace && key.startsWith(`${keyv.namespace}:`)
      ? key.slice(keyv.namespace.length + 1)
      : key;

  if (isKeyvPostgres(store)) {
    // One statement per batch and SQL range reads (`postgres-access.ts`).
    const serialize = keyvValueSerializer(keyv);
    const codec = { prefixed, unprefixed, decode, serialize, isRemoval: (value: unknown) => value === removal };
    return { mode: 'postgres-transaction', read, ...createPostgresAccess(store, codec) };
  }

  if (sqlite) {
    // The value format Keyv's own `set` produces: `{ value }` through its serializer.
    const serialize = keyvValueSerializer(keyv);
    const table = sqlite.opts.table ?? 'keyv';
    const rowsToEntries = async (rows: unknown): Promise<Array<[string, unknown]>> =>
      Promise.all(
        (rows as Array<{ key: string; value: string }>).map(async (row): Promise<[string, unknown]> => [
          unprefixed(row.key),
          await decode(row.value),
        ]),
      );
    return {
      mode: 'sqlite-transaction',
      read,
      async readMany(keys) {
        const found = new Map<string, unknown>();
        for (let start = 0; start < keys.length; start += keysPerRead) {
          const chunk = keys.slice(start, start + keysPerRead).map(prefixed);
          const rows: unknown = await sqlite.query(
            `SELECT key, value FROM ${table} WHERE key IN (${chunk.map(() => '?').join(', ')})`,
            chunk,
          );
          for (const [key, value] of await rowsToEntries(rows)) if (value !== undefined) found.set(key, value);
        }
        return found;
      },
      async scan(prefix) {
        const from = prefixed(prefix);
        return rowsToEntries(
          await sqlite.query(`SELECT key, value FROM ${table} WHERE key >= ? AND key < ? ORDER BY key`, [
            from,
            upperBound(from),
          ]),
        );
      },
      async range(prefix, after, limit) {
        const from = prefixed(prefix);
        // `key > prefix` also holds for every key with the prefix: the prefix itself is never a key.
        return rowsToEntries(
          await sqlite.query(`SELECT key, value FROM ${table} WHERE key > ? AND key < ? ORDER BY key LIMIT ?`, [
            prefixed(after ?? prefix),
            upperBound(from),
            limit,
          ]),
        );
      },
      async beforeLast(prefix, skip, limit) {
        const from = prefixed(prefix);
        const rows = (await sqlite.query(
          `SELECT key FROM ${table} WHERE key > ? AND key < ? ORDER BY key DESC LIMIT ? OFFSET ?`,
          [from, upperBound(from), limit, skip],
        )) as Array<{ key: string }>;
        return rows.map((row) => unprefixed(row.key));
      },
      async write(entries) {
        const keys: string[] = [];
        const values: unknown[] = [];
        const deletes: string[] = [];
        // `forEach`, not `for…of`: no [key, value] array per entry.
        entries.forEach((value, key) => {
          if (value === removal) {
            deletes.push(prefixed(key));
          } else {
            keys.push(key);
            values.push(value);
          }
        });
        // Serialized a statement at a time, as each runs (see `UpsertRows`); again on a retry.
        const rows: UpsertRows = {
          count: keys.length,
          async params(start, end) {
            const params: string[] = [];
            for (let i = start; i < end; i++) {
              const text = serialize(values[i]);
              params.push(prefixed(keys[i] as string), typeof text === 'string' ? text : await text);
            }
            return params;
          },
        };
        for (let attempt = 1; ; attempt++) {
          try {
            await upsertRows(sqlite, rows, deletes);
            return;
          } catch (err) {
            // Another connection kept the write lock past the busy timeout: the batch was rolled
            // back whole, so writing it again is safe.
            if (!isBusy(err) || attempt >= busyRetry.attempts) throw err;
            await delay(Math.min(busyRetry.baseMs * 2 ** (attempt - 1), busyRetry.maxMs));
          }
        }
      },
    };
  }

  const scan = async (prefix: string): Promise<Array<[string, unknown]>> => {
    const entries: Array<[string, unknown]> = [];
    if (store instanceof Map) {
      const from = prefixed(prefix);
      for (const [key, raw] of store as Map<string, unknown>)
        if (typeof key === 'string' && key.startsWith(from)) entries.push([unprefixed(key), await decode(raw)]);
    } else if (keyv.iterator) {
      // Keyv's iterator yields keys without the namespace and values already decoded.
      for await (const [key, value] of keyv.iterator(keyv.namespace) as AsyncGenerator<[string, unknown]>)
        if (key.startsWith(prefix)) entries.push([key, value]);
    } else {
      throw new Error(
        'the Keyv adapter can neither be iterated nor range-scanned: k8s-jobs cannot find the open tasks in it',
      );
    }
    return entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  };

  return {
    mode: 'set-many',
    read,
    async readMany(keys) {
      const found = new Map<string, unknown>();
      for (const key of keys) {
        const value = await read(key);
        if (value !== undefined) found.set(key, value);
      }
      return found;
    },
    scan,
    async range(prefix, after, limit) {
      const entries = await scan(prefix);
      const start = after === undefined ? 0 : entries.findIndex(([key]) => key > after);
      return start < 0 ? [] : entries.slice(start, start + limit);
    },
    async write(allEntries) {
      const deletes: string[] = [];
      const entries: Array<{ key: string; value: unknown; ttl: number }> = [];
      // `ttl: 0` overrides any default TTL the instance has: task history must not expire.
      allEntries.forEach((value, key) => {
        if (value === removal) deletes.push(key);
        else entries.push({ key, value, ttl: 0 });
      });
      // `false` only says some key was absent already; a failing adapter throws or emits `error`.
      if (deletes.length > 0) await keyv.deleteMany(deletes);
      // With `throwOnErrors` off, Keyv reports a failed write only as `false` plus an `error` event:
      // collect the events so the failure keeps its cause.
      const errors: unknown[] = [];
      const onError = (err: unknown): void => {
        errors.push(err);
      };
      keyv.on('error', onError);
      try {
        const results: unknown = await keyv.setMany(entries);
        const failed = Array.isArray(results) ? results.filter((result) => result === false).length : 0;
        if (failed > 0) {
          const [firstError] = errors;
          const detail = firstError instanceof Error ? `: ${firstError.message}` : '';
          const cause = errors.length > 1 ? new AggregateError(errors, `${errors.length} errors`) : firstError;
          throw new Error(`the Keyv store rejected ${failed} of ${entries.length} writes${detail}`, { cause });
        }
      } finally {
        keyv.off('error', onError);
      }
    },
  };
}
