import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import KeyvSqlite from '@keyv/sqlite';
import Keyv from 'keyv';
import { afterEach, describe, expect, it } from 'vitest';
import { StoreError } from '../../src/errors.js';
import { openTaskStore } from '../../src/store/open-store.js';
import { tempDir } from './harnesses.js';

const dir = tempDir('k8s-jobs-open-');
const opened: Array<{ close(): Promise<void> }> = [];
const track = <T extends { close(): Promise<void> }>(closable: T): T => {
  opened.push(closable);
  return closable;
};

afterEach(async () => {
  await Promise.all(opened.splice(0).map((c) => c.close()));
  dir.cleanup();
});

/** Opens, expecting a StoreError naming `location`; returns it. */
async function openFails(option: string | Keyv, location: string): Promise<StoreError> {
  const err: unknown = await openTaskStore(option).then(
    (store) => track(store) && undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StoreError);
  const storeError = err as StoreError;
  expect(storeError.code).toBe('STORE');
  expect(storeError.location).toBe(location);
  expect(storeError.message).toContain(location);
  return storeError;
}

const causeCode = (err: StoreError): unknown => (err.cause as { code?: unknown } | undefined)?.code;

describe('openTaskStore() failures are StoreErrors with the location and the cause', () => {
  it('a file in a directory that does not exist', async () => {
    const path = dir.path('missing/deeper/store.sqlite');
    const err = await openFails(`sqlite://${path}`, path);
    expect(causeCode(err)).toBe('SQLITE_CANTOPEN');
  });

  it('a path whose parent is a regular file', async () => {
    const parent = dir.path('not-a-dir');
    writeFileSync(parent, 'x');
    const err = await openFails(`sqlite://${parent}/store.sqlite`, `${parent}/store.sqlite`);
    expect(causeCode(err)).toBe('SQLITE_CANTOPEN');
  });

  it('a path that is a directory', async () => {
    const path = dir.path('a-dir');
    mkdirSync(path);
    const err = await openFails(`sqlite://${path}`, path);
    expect(causeCode(err)).toBe('SQLITE_CANTOPEN');
  });

  it.skipIf(process.getuid?.() === 0)(
    'a directory the process may not write (skipped as root: root writes anyway)',
    async () => {
      const readOnly = dir.path('read-only');
      mkdirSync(readOnly);
      chmodSync(readOnly, 0o555);
      try {
        await openFails(`sqlite://${readOnly}/store.sqlite`, `${readOnly}/store.sqlite`);
      } finally {
        chmodSync(readOnly, 0o755);
      }
    },
  );

  it('a file of garbage bytes (not a database)', async () => {
    const path = dir.path('garbage.sqlite');
    writeFileSync(path, Buffer.alloc(8192, 'not an sqlite database, just garbage '));
    const err = await openFails(`sqlite://${path}`, path);
    expect(causeCode(err)).toBe('SQLITE_NOTADB');
    expect(err.message).toContain('file is not a database');
  });

  it('a store written by a newer schema version, or with no schema record', async () => {
    const path = dir.path('newer.sqlite');
    const keyv = new Keyv({ store: new KeyvSqlite({ uri: `sqlite://${path}` }), namespace: 'k8s-jobs' });
    track({ close: () => keyv.disconnect() });
    await keyv.set('meta:schema', { schemaVersion: 99, createdAt: 'then', openedAt: 'then' });
    expect((await openFails(`sqlite://${path}`, path)).message).toContain('schema v99');
    await keyv.set('meta:schema', { something: 'else' });
    expect((await openFails(`sqlite://${path}`, path)).message).toContain('not a k8s-jobs store');
  });

  it('a database another connection holds locked past the busy timeout (open probes a write)', async () => {
    const path = dir.path('locked.sqlite');
    const holder = new KeyvSqlite({ uri: `sqlite://${path}` });
    track({ close: () => holder.disconnect() });
    await holder.query('PRAGMA journal_mode=WAL');
    await holder.query('BEGIN IMMEDIATE');
    const keyv = new Keyv({
      store: new KeyvSqlite({ uri: `sqlite://${path}`, busyTimeout: 50 }),
      namespace: 'k8s-jobs',
    });
    track({ close: () => keyv.disconnect() });
    const err = await openFails(keyv, `keyv(sqlite:${path}, namespace k8s-jobs)`);
    expect(causeCode(err)).toBe('SQLITE_BUSY');
    await holder.query('ROLLBACK');
  });

  it('an unsupported URI, or a sqlite URI without a path', async () => {
    await openFails('redis://localhost:6379', 'redis://localhost:6379');
    await openFails('sqlite://', 'sqlite://');
  });
});
