import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import type { KeyvSqlite } from '@keyv/sqlite';
import Keyv from 'keyv';
import sqlite3 from 'sqlite3';
import { afterEach, expect, test } from 'vitest';
import { RunnerClosedError, StoreError, StoreLockedError } from '../../src/errors.js';
import { openTaskStore } from '../../src/store/open-store.js';
import { lockKey } from '../../src/store/store-lock.js';
import { storeNamespace } from '../../src/store/layout.js';
import { creationsByName } from '../engine/harness.js';
import { waitUntil } from '../helpers/wait.js';
import { record, transition } from '../store/task-store-contract.js';
import { startRecovery, type Recovery } from './harness.js';

/* What the runner does when its store is taken, locked by another connection, or failing. */

let recovery: Recovery | undefined;
afterEach(async () => {
  await recovery?.close();
  recovery = undefined;
});

const pathOf = (storeUrl: string): string => storeUrl.slice('sqlite://'.length);

/** Writes a lock row as another runner would have left it. */
async function writeLock(storeUrl: string, owner: string, heartbeatAt: number): Promise<void> {
  const store = await openTaskStore(storeUrl);
  await store.keyv.set(lockKey, { owner, heartbeatAt });
  await store.close();
}

test('a second runner on the same store file is refused with StoreLockedError until the first shuts down', async () => {
  recovery = await startRecovery();
  const first = await recovery.start();
  const refused = await recovery.start().catch((err: unknown) => err);
  expect(refused).toBeInstanceOf(StoreLockedError);
  expect(refused).toMatchObject({
    code: 'STORE',
    location: pathOf(recovery.storeUrl),
    owner: expect.stringContaining(`${hostname()}:${process.pid}:`),
  });
  await first.shutdown();
  const second = await recovery.start();
  await second.addTask({ id: 'after', image: 'busybox' });
  expect((await second.waitFor('after')).outcome).toBe('succeeded');
});

test('the lock of a process that no longer exists is taken over at once', async () => {
  recovery = await startRecovery();
  const { pid } = spawnSync(process.execPath, ['-e', '']);
  await writeLock(recovery.storeUrl, `${hostname()}:${pid}:dead`, Date.now());
  await expect(recovery.start()).resolves.toBeDefined();
});

test("another host's lock is respected while its heartbeat is fresh and taken over once stale", async () => {
  recovery = await startRecovery();
  await writeLock(recovery.storeUrl, 'elsewhere:1:x', Date.now());
  await expect(recovery.start()).rejects.toBeInstanceOf(StoreLockedError);
  await writeLock(recovery.storeUrl, 'elsewhere:1:x', Date.now() - 60_000);
  await expect(recovery.start()).resolves.toBeDefined();
});

test('SQLITE_BUSY from another connection holding the write lock is retried until the write lands', async () => {
  recovery = await startRecovery();
  const store = await openTaskStore(recovery.storeUrl, { busyTimeoutMs: 20 });
  // Counts the statements SQLite refused with SQLITE_BUSY (after its 20 ms busy timeout).
  const adapter = store.keyv.store as KeyvSqlite;
  const query = adapter.query;
  let busy = 0;
  adapter.query = async (...args: Parameters<typeof query>) => {
    try {
      return await query(...args);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'SQLITE_BUSY') busy++;
      throw err;
    }
  };
  const other = new sqlite3.Database(pathOf(recovery.storeUrl));
  const run = (sql: string) =>
    new Promise<void>((resolve, reject) => other.run(sql, (err) => (err ? reject(err) : resolve())));
  try {
    await run('BEGIN EXCLUSIVE');
    let landed = false;
    const save = store
      .saveTask(record('busy', 'queued'), transition('busy', null, 'queued'))
      .then(() => (landed = true));
    // Refused, and tried again, while the other connection holds the lock.
    await waitUntil(() => busy >= 3, 'the write to be refused SQLITE_BUSY three times');
    expect(landed).toBe(false);
    await run('COMMIT');
    await save;
    expect(await store.getTask('busy')).toMatchObject({ id: 'busy', state: 'queued' });
  } finally {
    await new Promise<void>((resolve) => other.close(() => resolve()));
    await store.close();
  }
});

/** A Map whose writes fail once `failing` is set, as a store whose disk went away. */
class FailingMap extends Map<string, unknown> {
  failing = false;
  override set(key: string, value: unknown): this {
    if (this.failing) throw new Error('disk I/O error');
    return super.set(key, value);
  }
}

test('a write that fails stops the runner cleanly: later calls reject with RunnerClosedError carrying the cause, and no effect starts', async () => {
  recovery = await startRecovery();
  const map = new FailingMap();
  const runner = await recovery.start({
    store: new Keyv({ store: map, namespace: storeNamespace }),
    maxConcurrentJobs: 1,
  });
  await runner.addTask({ id: 'before', image: 'busybox', timeout: 60 });
  map.failing = true;
  await expect(runner.addTask({ id: 'lost', image: 'busybox' })).rejects.toBeInstanceOf(StoreError);
  const closed = await runner.getTask('before').catch((err: unknown) => err);
  expect(closed).toBeInstanceOf(RunnerClosedError);
  expect((closed as RunnerClosedError).cause).toBeInstanceOf(StoreError);
  await expect(runner.waitFor('before')).rejects.toBeInstanceOf(RunnerClosedError);
  expect(creationsByName(recovery.cluster).has('lost')).toBe(false);
});
