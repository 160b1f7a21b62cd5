/**
 * `--store` of the commands that read a store (`list`, `show`, `logs`): opened read-only, so they
 * work while a runner holds the store's lock, and never create or change a file (on PostgreSQL the
 * session itself is read-only: not even the schema is created).
 */
import { Option } from 'commander';
import type { KeyvTaskStore } from '../store/keyv-task-store.js';
import { defaultStoreUri, openTaskStore } from '../store/open-store.js';

/** The `--store <url>` option, defaulting to the runner's default store. */
export function storeOption(): Option {
  return new Option(
    '--store <url>',
    'the task store: sqlite://<path> (relative to the working directory) or ' +
      'postgres://<user>@<host>/<db>?schema=<name>',
  ).default(defaultStoreUri);
}

/** Opens `url` read-only (no lock, no writes; a missing SQLite file or PostgreSQL table is a `StoreError`). */
export function openStoreForReading(url: string): Promise<KeyvTaskStore> {
  return openTaskStore(url, { readOnly: true });
}

/**
 * Runs `read` on the store at `url` opened read-only, and closes it whatever happens.
 */
export async function withStore<T>(url: string, read: (store: KeyvTaskStore) => Promise<T>): Promise<T> {
  const store = await openStoreForReading(url);
  try {
    return await read(store);
  } finally {
    await store.close();
  }
}
