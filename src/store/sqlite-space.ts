/**
 * The SQLite file's space: its size, giving free pages back, and incremental auto-vacuum.
 *
 * Purged rows leave free pages inside the file, which SQLite reuses for later writes whatever the
 * settings, so a store whose purges keep up with its writes stops growing. With
 * `auto_vacuum = INCREMENTAL` the free pages can also be given back to the file system
 * (`PRAGMA incremental_vacuum(N)`, a few pages at a time, cheap), so the file shrinks after a big
 * purge. That mode must be chosen before the first table exists, or the file rewritten once with
 * `VACUUM`: done at once for a new (empty) store, and on request (`k8s-jobs purge --vacuum`) for
 * an existing file, because rewriting a big file takes time and twice its space.
 */
import type { KeyvSqlite } from '@keyv/sqlite';
import type { StoreSize } from './contract.js';

/** `PRAGMA auto_vacuum` value of INCREMENTAL. */
const incremental = 2;

async function pragmaNumber(sqlite: KeyvSqlite, name: string): Promise<number> {
  const rows = (await sqlite.query(`PRAGMA ${name}`)) as Array<Record<string, unknown>>;
  const value = rows[0]?.[name];
  return typeof value === 'number' ? value : Number(value ?? 0);
}

/** The database's size (`page_count × page_size`, WAL content included) and its free part. */
export async function sqliteSize(sqlite: KeyvSqlite): Promise<StoreSize> {
  const [pages, pageSize, free] = await Promise.all([
    pragmaNumber(sqlite, 'page_count'),
    pragmaNumber(sqlite, 'page_size'),
    pragmaNumber(sqlite, 'freelist_count'),
  ]);
  return { bytes: pages * pageSize, freeBytes: free * pageSize };
}

/** Whether the file is in `auto_vacuum = INCREMENTAL` mode. */
export async function isIncremental(sqlite: KeyvSqlite): Promise<boolean> {
  return (await pragmaNumber(sqlite, 'auto_vacuum')) === incremental;
}

/**
 * Puts a store with no rows yet in incremental auto-vacuum mode (the `VACUUM` that makes it take
 * effect is instant on an empty file). A file with rows is left as it is (see {@link vacuum}).
 */
export async function enableIncrementalVacuumIfEmpty(sqlite: KeyvSqlite): Promise<void> {
  if (await isIncremental(sqlite)) return;
  const table = sqlite.opts.table ?? 'keyv';
  const rows = (await sqlite.query(`SELECT 1 FROM ${table} LIMIT 1`)) as unknown[];
  if (rows.length > 0) return;
  await sqlite.query('PRAGMA auto_vacuum = INCREMENTAL');
  await sqlite.query('VACUUM');
}

/** Gives up to `maxPages` free pages back to the file system (no-op unless incremental). */
export async function releaseFreePages(sqlite: KeyvSqlite, maxPages: number): Promise<void> {
  await sqlite.query(`PRAGMA incremental_vacuum(${Math.max(0, Math.floor(maxPages))})`);
}

/**
 * Rewrites the whole file (`VACUUM`), in incremental auto-vacuum mode from then on: every free
 * page is given back. Needs the store to itself for its duration, and free disk space of about
 * the file's size.
 */
export async function vacuum(sqlite: KeyvSqlite): Promise<void> {
  await sqlite.query('PRAGMA auto_vacuum = INCREMENTAL');
  await sqlite.query('VACUUM');
}
