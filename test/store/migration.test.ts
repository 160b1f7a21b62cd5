import { afterEach, expect, test } from 'vitest';
import { openTaskStore } from '../../src/store/open-store.js';
import { storeSchemaVersion } from '../../src/store/layout.js';
import { indexKeys } from '../../src/store/task-index.js';
import { tempDir } from './harnesses.js';
import { record } from './task-store-contract.js';

/* ensureSchema's migration hook: a store written with layout v1 (no open-task index) is upgraded on open. */

const dir = tempDir('k8s-jobs-migrate-');
afterEach(() => dir.cleanup());

test('a v1 store is migrated on open: its open tasks enter the index in creation order, deleted ones do not', async () => {
  const url = `sqlite://${dir.path('v1.sqlite')}`;
  const v1 = await openTaskStore(url);
  await v1.keyv.set('meta:schema', { schemaVersion: 1, createdAt: 'then', openedAt: 'then' });
  const envelope = (r: ReturnType<typeof record>) => ({ schemaVersion: 1, updatedAt: 'then', record: r });
  await v1.keyv.set(
    'task:late',
    envelope(
      record('late', 'queued', {
        createdAt: '2026-01-02T00:00:00.000Z',
        spec: { id: 'late', image: 'busybox', priority: 2 },
      }),
    ),
  );
  await v1.keyv.set('task:early', envelope(record('early', 'running', { createdAt: '2026-01-01T00:00:00.000Z' })));
  await v1.keyv.set('task:done', envelope(record('done', 'deleted')));
  await v1.close();

  const store = await openTaskStore(url);
  try {
    expect(await store.keyv.get('meta:schema')).toMatchObject({ schemaVersion: storeSchemaVersion, createdAt: 'then' });
    expect((await store.listOpenTasks()).map(({ record: r, priority, seq }) => [r.id, priority, seq])).toEqual([
      ['late', 2, 1],
      ['early', 0, 0],
    ]);
  } finally {
    await store.close();
  }
});

/** A v2 store (open-task index, no listing index): records written directly, as v2 code left them. */
async function writeV2Store(url: string): Promise<void> {
  const v2 = await openTaskStore(url);
  await v2.keyv.set('meta:schema', { schemaVersion: 2, createdAt: 'then', openedAt: 'then' });
  const at = (day: number) => `2026-01-0${day}T00:00:00.000Z`;
  for (const r of [
    record('old-done', 'deleted', { createdAt: at(1), outcome: 'failed' }),
    record('mid-running', 'running', { createdAt: at(2) }),
    record('new-queued', 'queued', { createdAt: at(3) }),
  ]) {
    await v2.keyv.set(`task:${r.id}`, { schemaVersion: 2, updatedAt: 'then', record: r });
  }
  await v2.close();
}

test('a v2 store gets its listing index on open: listTasks pages and filters the tasks stored before', async () => {
  const url = `sqlite://${dir.path('v2.sqlite')}`;
  await writeV2Store(url);
  const store = await openTaskStore(url);
  try {
    expect(await store.keyv.get('meta:schema')).toMatchObject({ schemaVersion: storeSchemaVersion });
    const first = await store.listTasks({ limit: 2 });
    expect(first.items.map((r) => r.id)).toEqual(['new-queued', 'mid-running']);
    expect((await store.listTasks({ limit: 2, cursor: first.nextCursor })).items.map((r) => r.id)).toEqual([
      'old-done',
    ]);
    expect((await store.listTasks({ state: 'running' })).items.map((r) => r.id)).toEqual(['mid-running']);
    expect((await store.listTasks({ outcome: 'failed' })).items.map((r) => r.id)).toEqual(['old-done']);
  } finally {
    await store.close();
  }
});

test('a v2 store opened read-only (not migrated) is listed through a scan, with the same pages', async () => {
  const url = `sqlite://${dir.path('v2-read.sqlite')}`;
  await writeV2Store(url);
  const reader = await openTaskStore(url, { readOnly: true });
  try {
    expect(await reader.keyv.get('meta:schema')).toMatchObject({ schemaVersion: 2 });
    const first = await reader.listTasks({ limit: 2 });
    expect(first.items.map((r) => r.id)).toEqual(['new-queued', 'mid-running']);
    expect((await reader.listTasks({ limit: 2, cursor: first.nextCursor })).items.map((r) => r.id)).toEqual([
      'old-done',
    ]);
    expect((await reader.listTasks({ outcome: 'failed' })).items.map((r) => r.id)).toEqual(['old-done']);
  } finally {
    await reader.close();
  }
});

/** A v3 store (listing index, no retention index): records and `idx:` keys as v3 code left them. */
async function writeV3Store(url: string): Promise<void> {
  const v3 = await openTaskStore(url);
  await v3.keyv.set('meta:schema', { schemaVersion: 3, createdAt: 'then', openedAt: 'then' });
  const at = (day: number) => `2026-01-0${day}T00:00:00.000Z`;
  for (const r of [
    record('done-1', 'deleted', { createdAt: at(1), deletedAt: at(2), outcome: 'succeeded' }),
    record('done-2', 'deleted', { createdAt: at(2), deletedAt: at(3), outcome: 'succeeded' }),
    record('done-3', 'deleted', { createdAt: at(3), deletedAt: at(4), outcome: 'failed' }),
    record('running', 'running', { createdAt: at(4) }),
  ]) {
    await v3.keyv.set(`task:${r.id}`, { schemaVersion: 3, updatedAt: 'then', record: r });
    for (const key of indexKeys(r).filter((k) => k.startsWith('idx:'))) await v3.keyv.set(key, 1);
  }
  await v3.close();
}

test('a v3 store gets its retention index on open: purgeFinished finds the tasks finished before', async () => {
  const url = `sqlite://${dir.path('v3.sqlite')}`;
  await writeV3Store(url);
  const reader = await openTaskStore(url, { readOnly: true });
  try {
    // Read-only, a v3 store has no retention index to read: the purge says how to get one.
    await expect(reader.purgeFinished({ outcome: 'succeeded', keepNewest: 0, dryRun: true })).rejects.toThrow(
      /schema v4/,
    );
  } finally {
    await reader.close();
  }
  const store = await openTaskStore(url);
  try {
    expect(await store.keyv.get('meta:schema')).toMatchObject({ schemaVersion: storeSchemaVersion });
    expect(await store.purgeFinished({ outcome: 'succeeded', keepNewest: 1 })).toEqual({
      ids: ['done-1'],
      more: false,
    });
    expect(
      await store.purgeFinished({ outcome: 'failed', finishedBefore: Date.parse('2026-01-05T00:00:00.000Z') }),
    ).toEqual({ ids: ['done-3'], more: false });
    expect((await store.listTasks()).items.map((r) => r.id)).toEqual(['running', 'done-2']);
  } finally {
    await store.close();
  }
});
