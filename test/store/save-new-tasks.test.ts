import Keyv from 'keyv';
import { afterEach, describe, expect, it } from 'vitest';
import type { KeyvTaskStore } from '../../src/store/keyv-task-store.js';
import { storeNamespace } from '../../src/store/layout.js';
import { openTaskStore } from '../../src/store/open-store.js';
import { tempDir } from './harnesses.js';
import { record, transition } from './task-store-contract.js';

/* `saveNewTasks` (the store side of `runner.addTasks`) on a real SQLite file and on Keyv over a Map. */

const dir = tempDir('k8s-jobs-save-new-');
const open: KeyvTaskStore[] = [];
afterEach(async () => {
  for (const store of open.splice(0)) await store.close();
  dir.cleanup();
});

const stores: Array<[string, () => Promise<KeyvTaskStore>]> = [
  ['sqlite', () => openTaskStore(`sqlite://${dir.path('store.sqlite')}`)],
  ['keyv over a Map', () => openTaskStore(new Keyv({ store: new Map(), namespace: storeNamespace }))],
];

describe.each(stores)('saveNewTasks (%s)', (_, openStore) => {
  it('stores every record, its first transition and its queue entry', async () => {
    const store = await openStore();
    open.push(store);
    const ids = Array.from({ length: 900 }, (_, i) => `n${i}`);
    await store.saveNewTasks(
      ids.map((id, seq) => ({
        record: record(id),
        transition: transition(id, null, 'queued'),
        extras: { queue: { priority: seq % 3, seq } },
      })),
    );
    expect((await store.getTask('n7'))?.state).toBe('queued');
    expect(await store.getTransitions('n7')).toEqual([transition('n7', null, 'queued')]);
    const openTasks = await store.listOpenTasks();
    expect(openTasks).toHaveLength(900);
    expect(openTasks[0]).toMatchObject({ priority: 2, seq: 2 });
    expect((await store.listTasks({ state: 'queued', limit: 1000 })).items).toHaveLength(900);
  });

  it('takes first saves only: a later transition is refused and nothing is stored', async () => {
    const store = await openStore();
    open.push(store);
    await expect(
      store.saveNewTasks([
        { record: record('ok'), transition: transition('ok', null, 'queued') },
        { record: record('late', 'running'), transition: transition('late', 'queued', 'running') },
      ]),
    ).rejects.toThrow(/first saves only/);
    expect(await store.getTask('ok')).toBeUndefined();
  });
});
