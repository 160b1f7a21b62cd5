import KeyvSqlite from '@keyv/sqlite';
import Keyv from 'keyv';
import { afterEach, describe, expect, it } from 'vitest';
import { StoreError } from '../../src/errors.js';
import { openTaskStore } from '../../src/store/open-store.js';
import { probeSqlite, tempDir } from './harnesses.js';
import { record, transition } from './task-store-contract.js';

const dir = tempDir('k8s-jobs-fail-');
const opened: Array<{ close(): Promise<void> }> = [];
const track = <T extends { close(): Promise<void> }>(closable: T): T => {
  opened.push(closable);
  return closable;
};

afterEach(async () => {
  await Promise.all(opened.splice(0).map((c) => c.close()));
  dir.cleanup();
});

const nextTick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A Map adapter that fails on demand, as a broken backend would (a third-party seam, not our code). */
class FailingMap<K, V> extends Map<K, V> {
  failWrites = false;
  failReads = false;

  override set(key: K, value: V): this {
    if (this.failWrites) throw new Error('disk on fire');
    return super.set(key, value);
  }

  override get(key: K): V | undefined {
    if (this.failReads) throw new Error('cannot read');
    return super.get(key);
  }
}

describe('a failed batch is never silent', () => {
  it('SQLite busy past the timeout: every waiter of the batch, and of the batch queued behind it, gets a StoreError; nothing of it lands', async () => {
    const path = dir.path('busy.sqlite');
    const keyv = new Keyv({
      store: new KeyvSqlite({ uri: `sqlite://${path}`, busyTimeout: 50 }),
      namespace: 'k8s-jobs',
    });
    track({ close: () => keyv.disconnect() });
    const store = await openTaskStore(keyv);
    const { batches } = probeSqlite(store);
    const holder = new KeyvSqlite({ uri: `sqlite://${path}` });
    track({ close: () => holder.disconnect() });
    await holder.query('BEGIN IMMEDIATE');

    const first = Array.from({ length: 20 }, (_, i) =>
      store.saveTask(record(`f${i}`), transition(`f${i}`, null, 'queued')),
    );
    const settledFirst = Promise.allSettled(first);
    while (batches() === 0) await nextTick();
    const queuedBehind = Promise.allSettled([store.saveTask(record('behind'), transition('behind', null, 'queued'))]);

    for (const result of [...(await settledFirst), ...(await queuedBehind)]) {
      expect(result.status).toBe('rejected');
      expect((result as PromiseRejectedResult).reason).toBeInstanceOf(StoreError);
    }
    const [firstFailure] = await settledFirst;
    expect(((firstFailure as PromiseRejectedResult).reason as StoreError).cause).toMatchObject({ code: 'SQLITE_BUSY' });

    await holder.query('ROLLBACK');
    // Memory may hold what disk lost: the store refuses further writes rather than diverge silently.
    await expect(store.saveTask(record('later'))).rejects.toThrow(/an earlier write failed/);
    const rows = (await holder.query("SELECT count(*) AS n FROM keyv WHERE key LIKE 'k8s-jobs:task:%'")) as Array<{
      n: number;
    }>;
    expect(rows[0]?.n).toBe(0);
    await store.close();
  });

  it('a Keyv without throwOnErrors whose adapter fails: set() returning false still rejects with a StoreError and its cause', async () => {
    const map = new FailingMap<string, unknown>();
    const keyv = new Keyv({ store: map, namespace: 'k8s-jobs' });
    expect(keyv.throwOnErrors).toBe(false);
    const store = await openTaskStore(keyv);
    await store.saveTask(record('ok'), transition('ok', null, 'queued'));
    map.failWrites = true;
    const err: unknown = await store
      .saveTask(record('ok', 'creating'), transition('ok', 'queued', 'creating'))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    // Record, history and two listing index keys (the old index key is deleted first, and is not a write).
    expect((err as StoreError).message).toContain('rejected 4 of 4 writes: disk on fire');
    expect(((err as StoreError).cause as Error).cause).toMatchObject({
      errors: Array.from({ length: 4 }, () => ({ message: 'disk on fire' })),
    });
    // Unchanged, and the settings of the application's Keyv untouched.
    expect(keyv.throwOnErrors).toBe(false);
    map.failWrites = false;
    expect(((await keyv.get('task:ok')) as { record: { state: string } }).record.state).toBe('queued');
    await store.close();
  });

  it('a failing read is a StoreError, not "not found"', async () => {
    const map = new FailingMap<string, unknown>();
    const store = await openTaskStore(new Keyv({ store: map, namespace: 'k8s-jobs' }));
    map.failReads = true;
    await expect(store.getTask('any')).rejects.toBeInstanceOf(StoreError);
    await expect(store.getTransitions('any')).rejects.toThrow(/reading "transitions:any" failed: cannot read/);
    await expect(store.getLogSnapshot('any')).rejects.toBeInstanceOf(StoreError);
    await store.close();
  });
});
