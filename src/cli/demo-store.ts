/**
 * The demo starts from an empty store: the previous demo's SQLite file (and its WAL files) is
 * removed first — but only a file that is a k8s-jobs store, never anything else at that path.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { schemaKey } from '../store/layout.js';
import { openTaskStore } from '../store/open-store.js';
import { CliUsageError } from './fail.js';

/** The demo's store when `--store` is not given (in the working directory). */
export const defaultDemoStoreUri = 'sqlite://./k8s-jobs-demo.sqlite';

/**
 * Removes the k8s-jobs SQLite store at `url` with its `-wal` and `-shm` files; resolves with the
 * removed path, or undefined when there was nothing to remove (or the store is not a file).
 * @throws {CliUsageError} when the file is not a k8s-jobs store
 */
export async function removePreviousStore(url: string): Promise<string | undefined> {
  if (!url.startsWith('sqlite://')) return undefined;
  const path = url.slice('sqlite://'.length);
  if (!existsSync(path)) return undefined;
  const store = await openTaskStore(url, { readOnly: true });
  let schema: unknown;
  try {
    schema = await store.keyv.get(schemaKey);
  } finally {
    await store.close();
  }
  if (schema === undefined)
    throw new CliUsageError(`${path} exists and is not a k8s-jobs store: not removing it (pass another --store)`);
  for (const file of [path, `${path}-wal`, `${path}-shm`]) await rm(file, { force: true });
  return path;
}
