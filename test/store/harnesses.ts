/**
 * The two kinds of store the contract suite runs on: `@keyv/sqlite` files in a temp dir (opened
 * through `sqlite://`) and Keyv over a `Map` (opened through `memory://`, reopened by wrapping the
 * same Map in a new Keyv instance, as an application would pass its own).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type KeyvSqlite from '@keyv/sqlite';
import Keyv, { type KeyvEntry } from 'keyv';
import type { KeyvTaskStore } from '../../src/store/keyv-task-store.js';
import { openTaskStore } from '../../src/store/open-store.js';
import type { AdapterProbe, TaskStoreHarness } from './task-store-contract.js';

/** Counts batches and can hold one; `startsBatch` says whether a call begins a new batch. */
function probe<A extends unknown[], R>(
  call: (...args: A) => Promise<R>,
  startsBatch: (...args: A) => boolean,
): { wrapped: (...args: A) => Promise<R>; probe: AdapterProbe } {
  let count = 0;
  let held: Promise<void> | undefined;
  return {
    wrapped: async (...args: A) => {
      if (startsBatch(...args)) {
        count++;
        const gate = held;
        held = undefined;
        await gate;
      }
      return call(...args);
    },
    probe: {
      batches: () => count,
      holdNextBatch: () => {
        let release!: () => void;
        held = new Promise((resolve) => (release = resolve));
        return release;
      },
    },
  };
}

/** Probes SQLite transactions: an explicit BEGIN … COMMIT, or a lone INSERT statement. */
export function probeSqlite(store: KeyvTaskStore): AdapterProbe {
  const sqlite = store.keyv.store as KeyvSqlite;
  let inTransaction = false;
  const { wrapped, probe: sqliteProbe } = probe(sqlite.query, (sql: string) => {
    if (/^BEGIN/i.test(sql)) return (inTransaction = true);
    if (/^(COMMIT|ROLLBACK)/i.test(sql)) inTransaction = false;
    return /^INSERT/i.test(sql) && !inTransaction;
  });
  sqlite.query = wrapped;
  return sqliteProbe;
}

/** Probes `setMany` calls on a Keyv instance. */
export function probeSetMany(store: KeyvTaskStore): AdapterProbe {
  const setMany = store.keyv.setMany.bind(store.keyv);
  const { wrapped, probe: setManyProbe } = probe(
    (entries: KeyvEntry[]) => setMany(entries),
    () => true,
  );
  store.keyv.setMany = wrapped;
  return setManyProbe;
}

/** A temp dir removed by `cleanup()`. */
export function tempDir(prefix: string): { path: (name: string) => string; cleanup: () => void } {
  let dir: string | undefined;
  return {
    path: (name) => join((dir ??= mkdtempSync(join(tmpdir(), prefix))), name),
    cleanup: () => {
      if (dir) rmSync(dir, { recursive: true, force: true });
      dir = undefined;
    },
  };
}

export function sqliteHarness(): TaskStoreHarness {
  const dir = tempDir('k8s-jobs-store-');
  let n = 0;
  return {
    open: (options) => openTaskStore(`sqlite://${dir.path(`store-${++n}.sqlite`)}`, options),
    reopen: (store) => openTaskStore(`sqlite://${(store.keyv.store as KeyvSqlite).opts.db ?? ''}`),
    probe: probeSqlite,
    cleanup: async () => dir.cleanup(),
  };
}

export function mapHarness(): TaskStoreHarness {
  return {
    open: (options) => openTaskStore('memory://', options),
    reopen: (store) =>
      openTaskStore(new Keyv({ store: store.keyv.store as Map<string, unknown>, namespace: store.keyv.namespace })),
    probe: probeSetMany,
    cleanup: async () => undefined,
  };
}
