/**
 * The kinds of store the contract suite runs on: `@keyv/sqlite` files in a temp dir (opened
 * through `sqlite://`), Keyv over a `Map` (opened through `memory://`, reopened by wrapping the
 * same Map in a new Keyv instance, as an application would pass its own), and the real PostgreSQL
 * server (`postgres://`, a schema of its own per store, dropped by `cleanup()`).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type KeyvPostgres from '@keyv/postgres';
import type KeyvSqlite from '@keyv/sqlite';
import pg from 'pg';
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

/** The test server (trust auth): `K8S_JOBS_TEST_POSTGRES` overrides it. */
export const testPostgresUrl = process.env.K8S_JOBS_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A fresh schema name (lower case, as the store URL requires): `<prefix>_<random>`. */
export const randomSchema = (prefix: string): string => `${prefix}_${randomBytes(6).toString('hex')}`;

/** The store URL of `schema` on the test server. */
export const postgresStoreUrl = (schema: string): string => `${testPostgresUrl}?schema=${schema}`;

/** Drops the schemas (and everything in them) on the test server. */
export async function dropSchemas(schemas: readonly string[]): Promise<void> {
  if (schemas.length === 0) return;
  const client = new pg.Client({ connectionString: testPostgresUrl });
  await client.connect();
  try {
    for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}

/** Probes PostgreSQL batches: each is one statement (`WITH removed AS (DELETE …) INSERT …`). */
export function probePostgres(store: KeyvTaskStore): AdapterProbe {
  const adapter = store.keyv.store as KeyvPostgres;
  const { wrapped, probe: postgresProbe } = probe(adapter.query, (sql: string) => sql.startsWith('WITH removed AS'));
  adapter.query = wrapped;
  return postgresProbe;
}

/** Every store in a schema of its own on the test server; `cleanup()` drops them. */
export function postgresHarness(prefix = 'k8s_jobs_contract'): TaskStoreHarness {
  const schemas: string[] = [];
  const urls = new WeakMap<KeyvTaskStore, string>();
  return {
    open: async (options) => {
      const schema = randomSchema(prefix);
      schemas.push(schema);
      const store = await openTaskStore(postgresStoreUrl(schema), options);
      urls.set(store, postgresStoreUrl(schema));
      return store;
    },
    reopen: async (store) => {
      const url = urls.get(store);
      if (url === undefined) throw new Error('reopen: not a store of this harness');
      const reopened = await openTaskStore(url);
      urls.set(reopened, url);
      return reopened;
    },
    probe: probePostgres,
    cleanup: () => dropSchemas(schemas.splice(0)),
  };
}
