/**
 * `@keyv/sqlite`, loaded only when a `sqlite://` store is opened: importing it loads the native
 * `sqlite3` addon, which a runner on `memory://` or on the caller's own (non-SQLite) Keyv never
 * needs. Everything else in the store refers to it by type only.
 */
import type KeyvSqlite from '@keyv/sqlite';

/**
 * Whether a Keyv `store` is a `@keyv/sqlite` adapter, told by what we use of it (its `sqlite`
 * dialect and its `query`) rather than by `instanceof`, which would need the module loaded (and
 * would miss an adapter from another copy of the package).
 */
export function isKeyvSqlite(store: unknown): store is KeyvSqlite {
  if (typeof store !== 'object' || store === null) return false;
  const candidate = store as { opts?: { dialect?: unknown }; query?: unknown };
  return candidate.opts?.dialect === 'sqlite' && typeof candidate.query === 'function';
}

/** The `@keyv/sqlite` adapter class, imported (with `sqlite3`) on first call. */
export async function loadKeyvSqlite(): Promise<typeof KeyvSqlite> {
  const loaded = await import('@keyv/sqlite');
  return loaded.default;
}
