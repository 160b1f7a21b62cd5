/**
 * The store's owner lock: one row, `meta:lock`, naming the runner that uses the store and when it
 * last proved alive. Taken atomically when a runner opens the store (on SQLite inside
 * `BEGIN IMMEDIATE`, which holds the database's write lock from the read to the write, so two
 * processes cannot both see it free); renewed by a heartbeat through the store's own write queue;
 * removed when the store closes. A lock whose heartbeat is older than `staleAfterMs` belongs to a
 * runner that died without closing and is taken over. See docs/decisions/004-durable-store-layout-and-lock.md.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type Keyv from 'keyv';
import { StoreLockedError } from '../errors.js';
import { keyvValueSerializer } from './keyv-serialize.js';
import { isKeyvSqlite } from './sqlite-adapter.js';

/** Key of the lock row. */
export const lockKey = 'meta:lock';

/** What `meta:lock` holds. */
export interface LockRow {
  owner: string;
  /** Epoch ms of the latest heartbeat. */
  heartbeatAt: number;
}

/** How the lock is held. */
export interface LockOptions {
  /** Interval of heartbeats. @default 5000 */
  heartbeatMs?: number;
  /** A lock not renewed for this long is stale (its holder is presumed dead). @default 3 × heartbeatMs */
  staleAfterMs?: number;
  now?: () => number;
}

/** A fresh owner name: host, pid and a random part (two runners in one process differ). */
export function newLockOwner(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
}

/**
 * Whether the owner is a process on this host that no longer exists (killed without closing):
 * its lock need not wait to go stale. Owners on other hosts are judged by their heartbeat only.
 */
function holderIsDead(owner: string): boolean {
  const [host, pid] = owner.split(':');
  if (host !== hostname() || pid === undefined || !/^\d+$/.test(pid)) return false;
  try {
    process.kill(Number(pid), 0);
    return false;
  } catch (err) {
    // EPERM: the process exists but is someone else's.
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Takes the lock for `owner`, or throws {@link StoreLockedError} when another owner's heartbeat
 * is fresh (and, on this host, its process is alive). On SQLite the read and the write are one
 * `BEGIN IMMEDIATE` transaction; on other adapters (a `Map`, or a shared server store) it is a read
 * then a write, atomic only within one process's turn of the event loop.
 */
export async function acquireLock(
  keyv: Keyv,
  owner: string,
  location: string,
  options: Required<Omit<LockOptions, 'heartbeatMs'>>,
): Promise<void> {
  const key = keyv.namespace && keyv.useKeyPrefix ? `${keyv.namespace}:${lockKey}` : lockKey;
  const decide = (found: LockRow | undefined): void => {
    if (
      found &&
      found.owner !== owner &&
      options.now() - found.heartbeatAt < options.staleAfterMs &&
      !holderIsDead(found.owner)
    ) {
      throw new StoreLockedError(location, found.owner, new Date(found.heartbeatAt).toISOString());
    }
  };
  const row: LockRow = { owner, heartbeatAt: options.now() };
  const store: unknown = keyv.store;
  if (isKeyvSqlite(store)) {
    const table = store.opts.table ?? 'keyv';
    await store.query('BEGIN IMMEDIATE');
    try {
      const rows = (await store.query(`SELECT value FROM ${table} WHERE key = ?`, [key])) as Array<{ value: string }>;
      const raw = rows[0]?.value;
      decide(raw === undefined ? undefined : ((await keyv.deserializeData(raw))?.value as LockRow | undefined));
      const value = await keyvValueSerializer(keyv)(row);
      await store.query(
        `INSERT INTO ${table} (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
        [key, value],
      );
      await store.query('COMMIT');
    } catch (err) {
      await store.query('ROLLBACK');
      throw err;
    }
    return;
  }
  decide(await keyv.get(lockKey));
  await keyv.set(lockKey, row);
}
