import { afterEach, expect, test } from 'vitest';
import type KeyvSqlite from '@keyv/sqlite';
import Keyv from 'keyv';
import type { KeyvTaskStore } from '../../src/store/keyv-task-store.js';
import { openTaskStore } from '../../src/store/open-store.js';
import { loadKeyvSqlite } from '../../src/store/sqlite-adapter.js';
import { tempDir } from './harnesses.js';
import { record, transition } from './task-store-contract.js';

/* The SQLite file's space under retention: purged pages are reused or given back, so the size levels off. */

const dir = tempDir('k8s-jobs-space-');
afterEach(() => dir.cleanup());

const autoVacuum = async (store: KeyvTaskStore): Promise<number> => {
  const rows = (await (store.keyv.store as KeyvSqlite).query('PRAGMA auto_vacuum')) as Array<{ auto_vacuum: number }>;
  return rows[0]?.auto_vacuum ?? -1;
};

let seq = 0;
/** Writes `count` succeeded tasks (record, history, a 2 KiB log), finished one ms apart. */
async function writeFinished(store: KeyvTaskStore, count: number): Promise<void> {
  const saves: Array<Promise<void>> = [];
  for (let i = 0; i < count; i++) {
    const id = `t-${String(seq++)}`;
    const at = new Date(Date.parse('2026-03-01T00:00:00.000Z') + seq).toISOString();
    saves.push(
      store.saveTask(record(id), transition(id, null, 'queued')),
      store.putLogSnapshot({
        taskId: id,
        text: 'x'.repeat(2048),
        totalBytes: 2048,
        truncated: false,
        final: true,
        capturedAt: at,
      }),
      store.saveTask(
        record(id, 'deleted', { outcome: 'succeeded', finishedAt: at, deletedAt: at }),
        transition(id, 'queued', 'deleted', at),
      ),
    );
  }
  await Promise.all(saves);
}

/** Purges down to `keep` succeeded tasks, batch after batch, giving free pages back after each. */
async function purgeTo(store: KeyvTaskStore, keep: number): Promise<number> {
  let purged = 0;
  for (;;) {
    const { ids, more } = await store.purgeFinished({ outcome: 'succeeded', keepNewest: keep, limit: 100 });
    purged += ids.length;
    await store.releaseSpace(512);
    if (!more) return purged;
  }
}

test('a new store file is in incremental auto-vacuum mode', async () => {
  const store = await openTaskStore(`sqlite://${dir.path('new.sqlite')}`);
  try {
    expect(await autoVacuum(store)).toBe(2);
  } finally {
    await store.close();
  }
});

test('write and purge in rounds: the file size levels off', async () => {
  const store = await openTaskStore(`sqlite://${dir.path('rounds.sqlite')}`);
  try {
    const sizes: number[] = [];
    for (let round = 0; round < 8; round++) {
      await writeFinished(store, 300);
      expect(await purgeTo(store, 300)).toBe(round === 0 ? 0 : 300);
      sizes.push((await store.size()).bytes ?? 0);
    }
    // Each round adds 300 tasks and purges 300: past the first rounds the size stays where it was.
    expect(sizes[7]).toBeLessThanOrEqual((sizes[3] ?? 0) * 1.05);
    expect((await store.listTasks({ outcome: 'succeeded', limit: 1000 })).items).toHaveLength(300);
    // A purge of everything gives the pages back: the file shrinks.
    expect(await purgeTo(store, 0)).toBe(300);
    await store.releaseSpace(1_000_000);
    const after = await store.size();
    expect(after.freeBytes).toBe(0);
    expect(after.bytes).toBeLessThan((sizes[7] ?? 0) / 2);
  } finally {
    await store.close();
  }
});

test('an existing file keeps its mode until vacuum(), which converts it', async () => {
  const path = dir.path('old.sqlite');
  // A file with rows already, as a store created before v4 would be.
  const KeyvSqliteClass = await loadKeyvSqlite();
  const old = new Keyv({ store: new KeyvSqliteClass({ uri: `sqlite://${path}` }), namespace: 'k8s-jobs' });
  await old.set('unrelated', 1);
  await old.disconnect();
  const store = await openTaskStore(`sqlite://${path}`);
  try {
    expect(await autoVacuum(store)).toBe(0);
    await writeFinished(store, 50);
    await store.vacuum();
    expect(await autoVacuum(store)).toBe(2);
    expect((await store.listTasks({ limit: 100 })).items).toHaveLength(50);
  } finally {
    await store.close();
  }
});
