import { existsSync } from 'node:fs';
import KeyvSqlite from '@keyv/sqlite';
import Keyv from 'keyv';
import { afterEach, describe, expect, it } from 'vitest';
import { StoreError } from '../../src/errors.js';
import { lockKey } from '../../src/store/store-lock.js';
import { schemaKey } from '../../src/store/layout.js';
import { openTaskStore } from '../../src/store/open-store.js';
import { tempDir } from './harnesses.js';
import { record, transition } from './task-store-contract.js';

/*
 * `readOnly`: how the CLI reads a store a runner holds (its lock row) without writing to it.
 */

const dir = tempDir('k8s-jobs-readonly-');
const opened: Array<{ close(): Promise<void> }> = [];
const track = <T extends { close(): Promise<void> }>(closable: T): T => {
  opened.push(closable);
  return closable;
};

afterEach(async () => {
  await Promise.all(opened.splice(0).map((c) => c.close()));
  dir.cleanup();
});

/** Every row of the file, read through a separate connection. */
async function rows(path: string): Promise<Array<{ key: string; value: string }>> {
  const sqlite = new KeyvSqlite({ uri: `sqlite://${path}` });
  try {
    return (await sqlite.query('SELECT key, value FROM keyv ORDER BY key')) as Array<{ key: string; value: string }>;
  } finally {
    await sqlite.disconnect();
  }
}

describe('openTaskStore(uri, { readOnly: true })', () => {
  it('reads a store whose lock a runner holds, and sees what the runner writes later', async () => {
    const path = dir.path('held.sqlite');
    const owner = track(await openTaskStore(`sqlite://${path}`, { lock: { owner: 'runner-1' } }));
    await owner.saveTask(record('a', 'running'), transition('a', null, 'queued'), { queue: { priority: 0, seq: 0 } });
    const reader = track(await openTaskStore(`sqlite://${path}`, { readOnly: true }));
    expect((await reader.listTasks()).items.map((r) => r.id)).toEqual(['a']);
    await owner.saveTask(record('b'), transition('b', null, 'queued'), { queue: { priority: 0, seq: 1 } });
    expect((await reader.listTasks()).items.map((r) => r.id).sort()).toEqual(['a', 'b']);
    expect(await reader.getTransitions('b')).toEqual([transition('b', null, 'queued')]);
    // The lock is still the runner's: the reader neither took nor released it.
    const lock = (await rows(path)).find((row) => row.key === `k8s-jobs:${lockKey}`);
    expect(lock?.value).toContain('runner-1');
  });

  it('writes nothing: the schema row is left as it was and writes reject with StoreError', async () => {
    const path = dir.path('untouched.sqlite');
    const writer = await openTaskStore(`sqlite://${path}`);
    await writer.saveTask(record('a'), transition('a', null, 'queued'));
    await writer.close();
    const before = await rows(path);
    const reader = track(await openTaskStore(`sqlite://${path}`, { readOnly: true }));
    await expect(reader.saveTask(record('b'))).rejects.toThrow(/read-only: saveTask rejected/);
    await expect(
      reader.putLogSnapshot({
        taskId: 'a',
        text: '',
        totalBytes: 0,
        truncated: false,
        final: false,
        capturedAt: record('a').createdAt,
      }),
    ).rejects.toBeInstanceOf(StoreError);
    expect(await reader.getTask('a')).toEqual(record('a'));
    await reader.close();
    expect(await rows(path)).toEqual(before);
    expect(before.some((row) => row.key === `k8s-jobs:${schemaKey}`)).toBe(true);
  });

  it('a file that does not exist is a StoreError naming it, and no file is created', async () => {
    const path = dir.path('missing.sqlite');
    const err: unknown = await openTaskStore(`sqlite://${path}`, { readOnly: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).message).toContain(path);
    expect(existsSync(path)).toBe(false);
  });

  it('refuses, like a writable open, a store of a newer schema or one that is not a k8s-jobs store', async () => {
    const path = dir.path('newer.sqlite');
    const keyv = new Keyv({ store: new KeyvSqlite({ uri: `sqlite://${path}` }), namespace: 'k8s-jobs' });
    track({ close: () => keyv.disconnect() });
    await keyv.set(schemaKey, { schemaVersion: 99, createdAt: 'then', openedAt: 'then' });
    await expect(openTaskStore(`sqlite://${path}`, { readOnly: true })).rejects.toThrow(/schema v99/);
    await keyv.set(schemaKey, { something: 'else' });
    await expect(openTaskStore(`sqlite://${path}`, { readOnly: true })).rejects.toThrow(/not a k8s-jobs store/);
  });

  it('cannot be combined with the lock', async () => {
    await expect(openTaskStore('memory://', { readOnly: true, lock: { owner: 'x' } })).rejects.toBeInstanceOf(
      RangeError,
    );
  });
});
