import { afterEach, expect, test } from 'vitest';
import { openTaskStore } from '../../src/store/open-store.js';
import { storeSchemaVersion } from '../../src/store/layout.js';
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
