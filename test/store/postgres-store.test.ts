/**
 * The store contract on the real PostgreSQL server, through a `postgres://` URL and through a Keyv
 * over `@keyv/postgres` passed in; then what is PostgreSQL's own: the schema parameter, the table
 * and its key order, one all-or-nothing statement per batch, migration from an older layout, and
 * the password kept out of every message. Every store lives in a schema of its own, dropped after.
 */
import { inspect } from 'node:util';
import KeyvPostgres from '@keyv/postgres';
import Keyv from 'keyv';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { StoreError } from '../../src/errors.js';
import type { KeyvTaskStore } from '../../src/store/keyv-task-store.js';
import { storeNamespace, storeSchemaVersion } from '../../src/store/layout.js';
import { openTaskStore } from '../../src/store/open-store.js';
import { parsePostgresUrl, redactPostgresUrl } from '../../src/store/postgres-adapter.js';
import {
  dropSchemas,
  postgresHarness,
  postgresStoreUrl,
  probePostgres,
  randomSchema,
  testPostgresUrl,
} from './harnesses.js';
import { describeTaskStoreContract, record, transition, type TaskStoreHarness } from './task-store-contract.js';

describeTaskStoreContract('@keyv/postgres on the test server (postgres://, a schema per store)', postgresHarness());

/**
 * A Keyv over `@keyv/postgres` as an application builds it (the adapter's defaults: its own table,
 * VARCHAR(255) keys in the database's collation). The adapters share the package's module-wide
 * pool: it is ended once every store of a test is closed.
 */
function passedKeyvHarness(): TaskStoreHarness {
  const schemas: string[] = [];
  const adapters: KeyvPostgres[] = [];
  const keyvOf = (schema: string): Keyv => {
    const adapter = new KeyvPostgres({ uri: testPostgresUrl, schema });
    adapters.push(adapter);
    return new Keyv({ store: adapter, namespace: storeNamespace });
  };
  const schemaOf = new WeakMap<KeyvTaskStore, string>();
  return {
    open: async (options) => {
      const schema = randomSchema('k8s_jobs_passed');
      schemas.push(schema);
      const store = await openTaskStore(keyvOf(schema), options);
      schemaOf.set(store, schema);
      return store;
    },
    reopen: async (store) => {
      const schema = schemaOf.get(store) ?? '';
      const reopened = await openTaskStore(keyvOf(schema));
      schemaOf.set(reopened, schema);
      return reopened;
    },
    probe: probePostgres,
    cleanup: async () => {
      await adapters.splice(0).at(-1)?.disconnect();
      await dropSchemas(schemas.splice(0));
    },
  };
}

describeTaskStoreContract('a Keyv over @keyv/postgres passed in (its own table layout)', passedKeyvHarness());

const schemas: string[] = [];
const opened: KeyvTaskStore[] = [];
const fresh = (): string => {
  const schema = randomSchema('k8s_jobs_pg');
  schemas.push(schema);
  return schema;
};
const open = async (url: string, options?: Parameters<typeof openTaskStore>[1]): Promise<KeyvTaskStore> => {
  const store = await openTaskStore(url, options);
  opened.push(store);
  return store;
};
afterEach(async () => {
  await Promise.all(opened.splice(0).map((store) => store.close()));
});
afterAll(() => dropSchemas(schemas.splice(0)));

async function sql<T>(text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: testPostgresUrl });
  await client.connect();
  try {
    return (await client.query(text, values)).rows as T[];
  } finally {
    await client.end();
  }
}

const schemaExists = async (schema: string): Promise<boolean> =>
  (await sql('SELECT 1 FROM information_schema.schemata WHERE schema_name = $1', [schema])).length > 0;

describe('PostgreSQL store', () => {
  it('creates the schema of ?schema= and its table on first use, keys in the "C" collation', async () => {
    const schema = fresh();
    expect(await schemaExists(schema)).toBe(false);
    const store = await open(postgresStoreUrl(schema));
    expect(store.batchMode).toBe('postgres-transaction');
    const [column] = await sql<{ collation_name: string; character_maximum_length: number }>(
      `SELECT collation_name, character_maximum_length FROM information_schema.columns
       WHERE table_schema = $1 AND table_name = 'keyv' AND column_name = 'key'`,
      [schema],
    );
    expect(column).toEqual({ collation_name: 'C', character_maximum_length: 1024 });
    await store.saveTask(record('in-schema'));
    const rows = await sql<{ key: string }>(`SELECT key FROM ${schema}.keyv WHERE key LIKE '%in-schema%'`);
    expect(rows.length).toBeGreaterThan(0);
    expect(parsePostgresUrl('postgres://u@h/db').schema).toBe('public');
  });

  it('replicas opening a new schema at the same instant all open it (concurrent CREATE … IF NOT EXISTS)', async () => {
    // PostgreSQL's IF NOT EXISTS is not safe against a create running beside it: the loser gets
    // 42P07 (relation already exists), 42P06 (schema) or 23505 (the catalog's unique index).
    for (let round = 0; round < 24; round++) {
      const url = postgresStoreUrl(fresh());
      const stores = await Promise.allSettled(Array.from({ length: 4 }, () => open(url)));
      expect(stores.filter((s) => s.status === 'rejected').map((s) => inspect(s))).toEqual([]);
      // Closed each round: 96 stores open at once took most of the server's 100 connections, and
      // a test file running beside this one got "sorry, too many clients already".
      await Promise.all(opened.splice(0).map((store) => store.close()));
    }
  });

  it('lists in JavaScript string order on a table whose own collation orders otherwise (ICU)', async () => {
    const schema = fresh();
    // A table made beforehand in a linguistic collation, where "a-b" < "a.b" < "a_b" < "ab" does not hold.
    await sql(`CREATE SCHEMA ${schema}`);
    await sql(`CREATE TABLE ${schema}.keyv (key VARCHAR(255) COLLATE "und-x-icu" PRIMARY KEY, value TEXT)`);
    const adapter = new KeyvPostgres({ uri: testPostgresUrl, schema });
    const store = await open(postgresStoreUrl(schema));
    const ids = ['ab', 'a_b', 'a-b', 'a.b', 'a0b', 'aab', 'a9'];
    await Promise.all(ids.map((id) => store.saveTask(record(id))));
    // Pages of two: each page is a range read after the previous page's last key.
    const listed: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.listTasks({ limit: 2, ...(cursor === undefined ? {} : { cursor }) });
      listed.push(...page.items.map((r) => r.id));
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    // Same createdAt: ordered by id, as JavaScript compares strings.
    expect(listed).toEqual([...ids].sort());
    const [index] = await sql(`SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND indexname = 'keyv_key_c'`, [
      schema,
    ]);
    expect(index).toBeDefined();
    await adapter.disconnect();
  });

  it('a batch is one transaction: a row the server refuses leaves none of the batch behind', async () => {
    const schema = fresh();
    const store = await open(postgresStoreUrl(schema));
    await sql(`CREATE FUNCTION ${schema}.refuse() RETURNS trigger AS $$ BEGIN
      IF NEW.key LIKE '%poison%' THEN RAISE EXCEPTION 'refused %', NEW.key; END IF;
      RETURN NEW; END $$ LANGUAGE plpgsql`);
    await sql(
      `CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON ${schema}.keyv ` +
        `FOR EACH ROW EXECUTE FUNCTION ${schema}.refuse()`,
    );
    const probe = probePostgres(store);
    const saves = ['ok-1', 'poison', 'ok-2'].map((id) =>
      store.saveTask(record(id), transition(id, null, 'queued'), { queue: { priority: 0, seq: 0 } }),
    );
    const results = await Promise.allSettled(saves);
    expect(probe.batches()).toBe(1);
    for (const result of results) {
      expect(result.status).toBe('rejected');
      expect((result as PromiseRejectedResult).reason).toBeInstanceOf(StoreError);
    }
    const rows = await sql<{ key: string }>(`SELECT key FROM ${schema}.keyv WHERE key LIKE '%ok-%'`);
    expect(rows).toEqual([]);
    // What follows a lost write must not land as if nothing was lost.
    await expect(store.saveTask(record('after'))).rejects.toThrow(/an earlier write failed/);
  });

  it('migrates a store of an older layout (v2: no listing index) on open', async () => {
    const url = postgresStoreUrl(fresh());
    const v2 = await openTaskStore(url);
    await v2.keyv.set('meta:schema', { schemaVersion: 2, createdAt: 'then', openedAt: 'then' });
    const at = (day: number): string => `2026-01-0${day}T00:00:00.000Z`;
    for (const r of [
      record('old-done', 'deleted', { createdAt: at(1), outcome: 'failed' }),
      record('mid-running', 'running', { createdAt: at(2) }),
      record('new-queued', 'queued', { createdAt: at(3) }),
    ]) {
      await v2.keyv.set(`task:${r.id}`, { schemaVersion: 2, updatedAt: 'then', record: r });
    }
    await v2.close();
    const store = await open(url);
    expect(await store.keyv.get('meta:schema')).toMatchObject({ schemaVersion: storeSchemaVersion, createdAt: 'then' });
    expect((await store.listTasks()).items.map((r) => r.id)).toEqual(['new-queued', 'mid-running', 'old-done']);
    expect((await store.listTasks({ outcome: 'failed' })).items.map((r) => r.id)).toEqual(['old-done']);
  });

  it('read-only: a schema without a store is an error, and nothing is created', async () => {
    const schema = fresh();
    const err = await openTaskStore(postgresStoreUrl(schema), { readOnly: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).message).toContain(`no table ${schema}.keyv`);
    expect(await schemaExists(schema)).toBe(false);
  });

  it('refuses a schema name that is not a lower-case identifier, naming the parameter', async () => {
    const err = await openTaskStore(`${testPostgresUrl}?schema=Robert');DROP`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).message).toContain('"schema" parameter');
  });
});

describe('the password of a postgres:// URL never reaches a message', () => {
  const password = 'Sup3r-s3cret!pw';
  const withPassword = (url: string): string =>
    url.replace('://postgres@', `://postgres:${encodeURIComponent(password)}@`);
  const leaks = (err: unknown): boolean => {
    const text = `${String(err)}\n${inspect(err, { depth: 10 })}\n${JSON.stringify(err)}`;
    return text.includes(password) || text.includes(encodeURIComponent(password));
  };

  it('redacts it in the location', () => {
    expect(redactPostgresUrl(withPassword(testPostgresUrl))).toBe(
      testPostgresUrl.replace('://postgres@', '://postgres:***@'),
    );
  });

  it('not when the server cannot be reached', async () => {
    const err = await openTaskStore(withPassword('postgres://postgres@127.0.0.1:1/test')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).message).toContain('postgres://postgres:***@127.0.0.1:1/test');
    expect(leaks(err)).toBe(false);
  });

  it('not for a bad schema parameter, nor a URL that does not parse', async () => {
    const bad = await openTaskStore(`${withPassword(testPostgresUrl)}?schema=A-B`).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(StoreError);
    expect(leaks(bad)).toBe(false);
    const unparsable = await openTaskStore(`postgres://postgres:${password}@[::1/test`).catch((e: unknown) => e);
    expect(unparsable).toBeInstanceOf(StoreError);
    expect(leaks(unparsable)).toBe(false);
  });

  it('not in the location of a Keyv over @keyv/postgres passed in', async () => {
    const schema = fresh();
    const adapter = new KeyvPostgres({ uri: withPassword(testPostgresUrl), schema });
    try {
      const store = await open(postgresStoreUrl(schema)); // creates the table the passed Keyv then uses
      await store.close();
      const passed = await openTaskStore(new Keyv({ store: adapter, namespace: storeNamespace }));
      opened.push(passed);
      await sql(`DROP TABLE ${schema}.keyv`);
      const err = await passed.saveTask(record('lost')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).message).toContain('keyv(postgres:postgres://postgres:***@');
      expect(leaks(err)).toBe(false);
    } finally {
      await adapter.disconnect();
    }
  });

  it('not when a write fails (trust auth ignores the password: the store opens)', async () => {
    const schema = fresh();
    const store = await open(withPassword(postgresStoreUrl(schema)));
    await sql(`DROP TABLE ${schema}.keyv`);
    const err = await store.saveTask(record('lost')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).message).toContain('postgres:***@');
    expect(leaks(err)).toBe(false);
  });
});
