/**
 * The TaskStore contract suite: every adapter the task store runs on must pass it
 * (`task-store.test.ts` runs it on SQLite files and on Keyv over a `Map`).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { StoreError, ValidationError } from '../../src/errors.js';
import type { LogSnapshot } from '../../src/store/contract.js';
import { maxBatchEntries } from '../../src/store/group-commit.js';
import { storeSchemaVersion } from '../../src/store/layout.js';
import type { KeyvTaskStore } from '../../src/store/keyv-task-store.js';
import { taskStates, type TaskOutcome, type TaskRecord, type TaskState, type Transition } from '../../src/types.js';

/** What a harness observes at the adapter, below the task store. */
export interface AdapterProbe {
  /** Batches that have reached the adapter so far. */
  batches: () => number;
  /** Makes the next batch wait at the adapter (in flight, not written) until the returned function is called. */
  holdNextBatch: () => () => void;
}

/** How the suite gets stores of one kind. */
export interface TaskStoreHarness {
  /** A fresh, empty store. */
  open(options?: { historyCacheSize?: number }): Promise<KeyvTaskStore>;
  /** A new store instance over the same data as `store` (which is closed first by the suite). */
  reopen(store: KeyvTaskStore): Promise<KeyvTaskStore>;
  /**
   * Starts observing the batches `store` sends to its adapter (SQLite transactions or `setMany`
   * calls, seen at the adapter).
   */
  probe(store: KeyvTaskStore): AdapterProbe;
  /** Releases anything left (temp files). */
  cleanup(): Promise<void>;
}

const createdAt = '2026-01-01T00:00:00.000Z';

export const record = (id: string, state: TaskState = 'queued', extra: Partial<TaskRecord> = {}): TaskRecord => ({
  id,
  spec: { id, image: 'busybox:1.36', command: ['sh', '-c', 'echo hi'] },
  state,
  jobName: id,
  createdAt,
  ...extra,
});

export const transition = (taskId: string, from: TaskState | null, to: TaskState, at = createdAt): Transition => ({
  taskId,
  from,
  to,
  event: from === null ? 'ADD' : 'START',
  at,
});

const snapshot = (taskId: string, text: string, final = false): LogSnapshot => ({
  taskId,
  text,
  totalBytes: Buffer.byteLength(text),
  truncated: false,
  final,
  capturedAt: createdAt,
  pod: `${taskId}-pod`,
  container: 'task',
});

const lifecycle: TaskState[] = ['queued', 'creating', 'running', 'succeeded', 'deleting', 'deleted'];

/** Saves the lifecycle of `id` (one save per transition) without awaiting; returns the saves. */
const saveLifecycle = (store: KeyvTaskStore, id: string): Array<Promise<void>> =>
  lifecycle.map((state, i) =>
    store.saveTask(
      record(id, state, state === 'succeeded' ? { outcome: 'succeeded' } : {}),
      transition(id, i === 0 ? null : (lifecycle[i - 1] ?? null), state),
    ),
  );

const nextTick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Registers the contract tests for one kind of store. */
export function describeTaskStoreContract(name: string, harness: TaskStoreHarness): void {
  describe(`TaskStore contract: ${name}`, () => {
    const open: KeyvTaskStore[] = [];
    const track = (store: KeyvTaskStore): KeyvTaskStore => {
      open.push(store);
      return store;
    };
    const fresh = async (options?: { historyCacheSize?: number }) => track(await harness.open(options));
    const reopen = async (store: KeyvTaskStore) => {
      await store.close();
      return track(await harness.reopen(store));
    };

    afterEach(async () => {
      await Promise.all(open.splice(0).map((store) => store.close()));
      await harness.cleanup();
    });

    it('saveTask() then getTask() returns the record; unknown ids read as undefined / empty', async () => {
      const store = await fresh();
      const saved = record('task-a', 'running', { jobUid: 'uid-1', startedAt: createdAt });
      await store.saveTask(saved);
      expect(await store.getTask('task-a')).toEqual(saved);
      expect(await store.getTask('nope')).toBeUndefined();
      expect(await store.getTransitions('nope')).toEqual([]);
      expect(await store.getLogSnapshot('nope')).toBeUndefined();
    });

    it('getTransitions() lists every transition oldest first, also from a reopened store', async () => {
      let store = await fresh();
      await Promise.all([...saveLifecycle(store, 'a'), ...saveLifecycle(store, 'b')]);
      const expected = lifecycle.map((state, i) => transition('a', i === 0 ? null : (lifecycle[i - 1] ?? null), state));
      expect(await store.getTransitions('a')).toEqual(expected);
      store = await reopen(store);
      expect(await store.getTransitions('a')).toEqual(expected);
      expect((await store.getTransitions('b')).map((t) => t.to)).toEqual(lifecycle);
      expect(await store.getTask('a')).toEqual(record('a', 'deleted'));
    });

    it('reads see writes that are queued but not yet durable', async () => {
      const store = await fresh();
      const durable = store.saveTask(record('rw', 'creating'), transition('rw', null, 'creating'));
      expect(await store.getTask('rw')).toEqual(record('rw', 'creating'));
      expect(await store.getTransitions('rw')).toHaveLength(1);
      await durable;
    });

    it('1,000 un-awaited saves of one task in one tick: the last call wins, every transition kept in call order', async () => {
      let store = await fresh();
      const saves: Array<Promise<void>> = [];
      for (let i = 0; i < 1000; i++) {
        saves.push(
          store.saveTask(record('hot', 'running', { jobUid: `uid-${i}` }), {
            ...transition('hot', i === 0 ? null : 'running', 'running'),
            event: `E${i}`,
          }),
        );
      }
      await Promise.all(saves);
      expect((await store.getTask('hot'))?.jobUid).toBe('uid-999');
      store = await reopen(store);
      expect((await store.getTask('hot'))?.jobUid).toBe('uid-999');
      expect((await store.getTransitions('hot')).map((t) => t.event)).toEqual(
        Array.from({ length: 1000 }, (_, i) => `E${i}`),
      );
    });

    it('1,000 un-awaited saves of one task spread over many batches: the last call wins on disk', async () => {
      let store = await fresh();
      const { batches } = harness.probe(store);
      const saves: Array<Promise<void>> = [];
      for (let i = 0; i < 1000; i++) {
        saves.push(
          store.saveTask(record('hot', 'running', { jobUid: `uid-${i}` }), {
            ...transition('hot', i === 0 ? null : 'running', 'running'),
            event: `E${i}`,
          }),
        );
        // Every 100 saves, wait until another batch has left: older values are in flight while newer ones queue.
        if (i % 100 === 99) {
          const sent = batches();
          while (batches() === sent) await nextTick();
        }
      }
      await Promise.all(saves);
      expect(batches()).toBeGreaterThanOrEqual(10);
      store = await reopen(store);
      expect((await store.getTask('hot'))?.jobUid).toBe('uid-999');
      expect((await store.getTransitions('hot')).map((t) => t.event)).toEqual(
        Array.from({ length: 1000 }, (_, i) => `E${i}`),
      );
    });

    it('group commit: saves of 200 tasks in one tick reach the adapter as one batch', async () => {
      const store = await fresh();
      const { batches } = harness.probe(store);
      await Promise.all(
        Array.from({ length: 200 }, (_, i) => store.saveTask(record(`t${i}`), transition(`t${i}`, null, 'queued'))),
      );
      expect(batches()).toBe(1);
      expect(await store.getTask('t199')).toEqual(record('t199'));
    });

    it(`group commit: a burst beyond ${maxBatchEntries} entries goes out as consecutive batches, all written`, async () => {
      let store = await fresh();
      const { batches } = harness.probe(store);
      // 4 entries per save (record, history, 2 listing index keys): twice the batch limit.
      const tasks = maxBatchEntries / 2;
      await Promise.all(
        Array.from({ length: tasks }, (_, i) =>
          store.saveTask(record(`burst-${i}`), transition(`burst-${i}`, null, 'queued')),
        ),
      );
      expect(batches()).toBe(2);
      store = await reopen(store);
      expect(await store.getTask(`burst-${tasks - 1}`)).toEqual(record(`burst-${tasks - 1}`));
      expect(await store.getTransitions('burst-0')).toEqual([transition('burst-0', null, 'queued')]);
    });

    it('group commit: saves made while a batch is in flight go out together as the next batch', async () => {
      const store = await fresh();
      const adapter = harness.probe(store);
      const release = adapter.holdNextBatch();
      const first = store.saveTask(record('first'), transition('first', null, 'queued'));
      while (adapter.batches() === 0) await nextTick();
      // The first batch is held at the adapter; 100 saves arrive over 10 ticks meanwhile.
      const later: Array<Promise<void>> = [];
      for (let i = 0; i < 100; i++) {
        later.push(store.saveTask(record(`later-${i}`), transition(`later-${i}`, null, 'queued')));
        if (i % 10 === 9) await nextTick();
      }
      expect(adapter.batches()).toBe(1);
      release();
      await Promise.all([first, ...later]);
      expect(adapter.batches()).toBe(2);
    });

    it('a newer value is never overwritten by an older one still in flight', async () => {
      let store = await fresh();
      const adapter = harness.probe(store);
      const release = adapter.holdNextBatch();
      const older = store.saveTask(record('race', 'creating'), transition('race', null, 'creating'));
      while (adapter.batches() === 0) await nextTick();
      const newer = store.saveTask(
        record('race', 'running', { jobUid: 'newest' }),
        transition('race', 'creating', 'running'),
      );
      for (let i = 0; i < 5; i++) await nextTick();
      release(); // the older batch completes only now, after the newer save was made
      await Promise.all([older, newer]);
      store = await reopen(store);
      expect(await store.getTask('race')).toEqual(record('race', 'running', { jobUid: 'newest' }));
      expect((await store.getTransitions('race')).map((t) => t.to)).toEqual(['creating', 'running']);
    });

    it('putLogSnapshot() replaces the snapshot; getLogSnapshot() returns the latest, also after reopen', async () => {
      let store = await fresh();
      await store.putLogSnapshot(snapshot('logs', 'line 1\n'));
      await store.putLogSnapshot(snapshot('logs', 'line 1\nline 2\n', true));
      expect(await store.getLogSnapshot('logs')).toEqual(snapshot('logs', 'line 1\nline 2\n', true));
      store = await reopen(store);
      expect(await store.getLogSnapshot('logs')).toEqual(snapshot('logs', 'line 1\nline 2\n', true));
    });

    it('values round-trip exactly, including strings Keyv escapes (leading ":") and non-ASCII text', async () => {
      let store = await fresh();
      const odd = record('odd:id', 'failed', {
        outcome: 'failed',
        failure: {
          reason: 'BackoffLimitExceeded',
          message: ':starts with a colon',
          exitCode: 3,
          lastLogLines: [':a', '::b', 'ünïcødé ✓', ':base64:AAAA'],
        },
      });
      await store.saveTask(odd, transition('odd:id', null, 'failed'));
      await store.putLogSnapshot(snapshot('odd:id', ':log\n✓\n'));
      store = await reopen(store);
      expect(await store.getTask('odd:id')).toEqual(odd);
      expect(await store.getLogSnapshot('odd:id')).toEqual(snapshot('odd:id', ':log\n✓\n'));
    });

    it('what it writes is ordinary Keyv data: keyv.get() reads the envelope', async () => {
      const store = await fresh();
      await store.saveTask(record('plain', 'running'), transition('plain', null, 'running'));
      expect(await store.keyv.get('task:plain')).toMatchObject({
        schemaVersion: storeSchemaVersion,
        record: record('plain', 'running'),
      });
      expect(await store.keyv.get('transitions:plain')).toMatchObject({
        schemaVersion: storeSchemaVersion,
        transitions: [transition('plain', null, 'running')],
      });
      expect(await store.keyv.get('meta:schema')).toMatchObject({ schemaVersion: storeSchemaVersion });
    });

    it('histories evicted from memory are read back, and later saves of that task keep their order', async () => {
      const store = await fresh({ historyCacheSize: 1 });
      await store.saveTask(record('x', 'queued'), transition('x', null, 'queued'));
      await store.saveTask(record('y', 'queued'), transition('y', null, 'queued')); // evicts x
      // Un-awaited: the first must read x's history before it can append; the others wait their turn.
      const saves = [
        store.saveTask(record('x', 'creating'), transition('x', 'queued', 'creating')),
        store.saveTask(record('x', 'running', { jobUid: 'u' })),
        store.saveTask(record('x', 'succeeded'), transition('x', 'running', 'succeeded')),
        store.saveTask(record('y', 'creating'), transition('y', 'queued', 'creating')), // competes for the one slot
        store.saveTask(record('x', 'deleting'), transition('x', 'succeeded', 'deleting')),
      ];
      expect((await store.getTask('x'))?.state).toBe('deleting');
      await Promise.all(saves);
      expect((await store.getTransitions('x')).map((t) => t.to)).toEqual([
        'queued',
        'creating',
        'succeeded',
        'deleting',
      ]);
      expect((await store.getTransitions('y')).map((t) => t.to)).toEqual(['queued', 'creating']);
    });

    it('listOpenTasks() returns every task not yet deleted, by priority then enqueue order, with its context, also after reopen', async () => {
      let store = await fresh();
      const queue = {
        a: { priority: 0, seq: 0 },
        b: { priority: 5, seq: 1 },
        c: { priority: 0, seq: 2 },
        gone: { priority: 9, seq: 3 },
      };
      for (const [id, position] of Object.entries(queue))
        void store.saveTask(record(id), transition(id, null, 'queued'), { queue: position });
      await store.saveTask(record('c', 'running', { jobUid: 'uid-c' }), transition('c', 'queued', 'running'), {
        context: { jobMayExist: true, slotHeld: true },
      });
      await store.saveTask(
        record('gone', 'deleted', { outcome: 'cancelled' }),
        transition('gone', 'queued', 'deleted'),
      );
      const expected = [
        { priority: 5, seq: 1, record: record('b') },
        { priority: 0, seq: 0, record: record('a') },
        {
          priority: 0,
          seq: 2,
          record: record('c', 'running', { jobUid: 'uid-c' }),
          context: { jobMayExist: true, slotHeld: true },
        },
      ];
      expect(await store.listOpenTasks()).toEqual(expected);
      store = await reopen(store);
      expect(await store.listOpenTasks()).toEqual(expected);
      expect(await store.getTask('gone')).toMatchObject({ state: 'deleted' });
    });

    it('listTasks(): every task, deleted ones too, newest first, queued writes too, also after reopen', async () => {
      let store = await fresh();
      const at = (second: number): string => `2026-01-01T00:00:0${second}.000Z`;
      // Saved out of creation order, and not awaited: listTasks() must see queued writes too.
      void store.saveTask(record('late', 'running', { createdAt: at(3) }), transition('late', null, 'queued'), {
        queue: { priority: 0, seq: 2 },
      });
      void store.saveTask(
        record('b-same-time', 'queued', { createdAt: at(1) }),
        transition('b-same-time', null, 'queued'),
        { queue: { priority: 0, seq: 1 } },
      );
      void store.saveTask(
        record('a-same-time', 'queued', { createdAt: at(1) }),
        transition('a-same-time', null, 'queued'),
        { queue: { priority: 0, seq: 0 } },
      );
      const saves = saveLifecycle(store, 'first');
      void store.putLogSnapshot(snapshot('first', 'not a task\n'));
      const listed = await store.listTasks();
      await Promise.all(saves);
      // Newest first; tasks created in the same millisecond by id.
      const expected = [
        { id: 'late', state: 'running', createdAt: at(3) },
        { id: 'a-same-time', state: 'queued', createdAt: at(1) },
        { id: 'b-same-time', state: 'queued', createdAt: at(1) },
        { id: 'first', state: 'deleted', createdAt },
      ];
      expect(listed.nextCursor).toBeUndefined();
      expect(listed.items.map(({ id, state, createdAt: created }) => ({ id, state, createdAt: created }))).toEqual(
        expected,
      );
      expect(listed.items[3]).toEqual(record('first', 'deleted'));
      store = await reopen(store);
      expect(
        (await store.listTasks()).items.map(({ id, state, createdAt: created }) => ({ id, state, createdAt: created })),
      ).toEqual(expected);
    });

    it('listTasks() of an empty store is empty', async () => {
      const store = await fresh();
      expect(await store.listTasks()).toEqual({ items: [] });
      expect(await store.listTasks({ state: 'failed' })).toEqual({ items: [] });
    });

    /** `n` tasks created one second apart from `from` (epoch seconds), saved as first records. */
    const addTasks = (store: KeyvTaskStore, ids: string[], from: number, state: TaskState = 'queued') =>
      Promise.all(
        ids.map((id, i) =>
          store.saveTask(
            record(id, state, { createdAt: new Date((from + i) * 1000).toISOString() }),
            transition(id, null, 'queued'),
            { queue: { priority: 0, seq: from + i } },
          ),
        ),
      );
    const ids = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
    const moveTo = async (store: KeyvTaskStore, id: string, state: TaskState, outcome?: TaskOutcome) => {
      const current = await store.getTask(id);
      if (!current) throw new Error(`no task ${id}`);
      await store.saveTask(
        { ...current, state, ...(outcome ? { outcome } : {}) },
        transition(id, current.state, state),
      );
    };

    it('listTasks({ limit, cursor }): pages newest first, nextCursor absent on the last page', async () => {
      const store = await fresh();
      await addTasks(store, ids('t', 25), 1_800_000_000);
      const first = await store.listTasks({ limit: 10 });
      expect(first.items.map((r) => r.id)).toEqual(ids('t', 25).reverse().slice(0, 10));
      const second = await store.listTasks({ limit: 10, cursor: first.nextCursor });
      expect(second.items.map((r) => r.id)).toEqual(ids('t', 25).reverse().slice(10, 20));
      const last = await store.listTasks({ limit: 10, cursor: second.nextCursor });
      expect(last.items.map((r) => r.id)).toEqual(ids('t', 25).reverse().slice(20));
      expect(last.nextCursor).toBeUndefined();
      // A page that ends exactly at the last task says so too.
      expect((await store.listTasks({ limit: 25 })).nextCursor).toBeUndefined();
      expect((await store.listTasks({ limit: 24 })).nextCursor).toBeDefined();
      expect((await store.listTasks()).items).toHaveLength(25); // default limit: 100
    });

    it('listTasks() paging neither repeats nor skips a task while others are added or move between pages', async () => {
      const store = await fresh();
      const before = ids('old', 30);
      await addTasks(store, before, 1_800_000_000);
      const seen: string[] = [];
      const queuedSeen: string[] = [];
      // `undefined` before the first page, `null` once a list has ended.
      let cursor: string | null | undefined;
      let queuedCursor: string | null | undefined;
      for (let round = 0; cursor !== null || queuedCursor !== null; round++) {
        if (cursor !== null) {
          const page = await store.listTasks({ limit: 7, ...(cursor ? { cursor } : {}) });
          seen.push(...page.items.map((r) => r.id));
          cursor = page.nextCursor ?? null;
        }
        if (queuedCursor !== null) {
          const page = await store.listTasks({
            state: 'queued',
            limit: 4,
            ...(queuedCursor ? { cursor: queuedCursor } : {}),
          });
          queuedSeen.push(...page.items.map((r) => r.id));
          queuedCursor = page.nextCursor ?? null;
        }
        // Between pages: newer tasks arrive, and old ones (the odd ones, oldest first) move on.
        await addTasks(store, ids(`new${round}-`, 3), 1_900_000_000 + round * 10);
        if (2 * round + 1 < before.length) {
          await moveTo(store, `old${2 * round + 1}`, 'running');
          await moveTo(store, `old${2 * round + 1}`, 'deleted', 'failed');
        }
        if (round > 20) throw new Error('paging does not end');
      }
      // Every task there at the start, once each, newest first; none of the newer ones.
      expect(seen).toEqual([...before].reverse());
      // The queued list holds each task that stayed queued, once, in order; none of the newer ones;
      // none that had left the state before its page was read (old1 left first).
      expect(new Set(queuedSeen).size).toBe(queuedSeen.length);
      const stayedQueued = before.filter((_, i) => i % 2 === 0).reverse();
      expect(queuedSeen.filter((id) => stayedQueued.includes(id))).toEqual(stayedQueued);
      expect(queuedSeen.every((id) => before.includes(id))).toBe(true);
      expect(queuedSeen).not.toContain('old1');
      expect(queuedSeen).toContain('old29');
    });

    it('listTasks({ state, outcome }) lists a task under its current state only, also after reopen', async () => {
      let store = await fresh();
      await addTasks(store, ['a', 'b', 'c', 'd'], 1_800_000_000);
      await moveTo(store, 'a', 'running');
      await moveTo(store, 'b', 'running');
      await moveTo(store, 'b', 'failed', 'failed');
      // Saves without a transition move the index too.
      const c = await store.getTask('c');
      await store.saveTask({ ...c!, state: 'running' });
      await store.saveTask({ ...c!, state: 'succeeded', outcome: 'succeeded' });
      // A save with the same state keeps its single entry.
      await store.saveTask({ ...c!, state: 'succeeded', outcome: 'succeeded' });
      await moveTo(store, 'd', 'deleted', 'cancelled');
      const listed = async (query: Parameters<KeyvTaskStore['listTasks']>[0]) =>
        (await store.listTasks(query)).items.map((r) => r.id);
      for (let pass = 0; pass < 2; pass++) {
        expect(await listed({ state: 'queued' })).toEqual([]);
        expect(await listed({ state: 'running' })).toEqual(['a']);
        expect(await listed({ state: 'failed' })).toEqual(['b']);
        expect(await listed({ state: 'succeeded' })).toEqual(['c']);
        expect(await listed({ state: 'deleted' })).toEqual(['d']);
        expect(await listed({ outcome: 'cancelled' })).toEqual(['d']);
        expect(await listed({ state: 'deleted', outcome: 'cancelled' })).toEqual(['d']);
        // `failed` is b's state, not yet a finished outcome.
        expect(await listed({ outcome: 'failed' })).toEqual([]);
        expect(await listed({})).toEqual(['d', 'c', 'b', 'a']);
        // No key is left behind in a state a task has left: each state's list holds one task at most.
        for (const state of taskStates) expect((await store.listTasks({ state, limit: 1 })).nextCursor).toBeUndefined();
        store = await reopen(store);
      }
      // A reopened store does not know the states saved before: it still moves the right key.
      await moveTo(store, 'a', 'deleted', 'succeeded');
      expect(await store.listTasks({ state: 'running', limit: 1 })).toEqual({ items: [] });
      expect(await listed({ outcome: 'succeeded' })).toEqual(['a']);
    });

    it('listTasks() reads the index, not the records: a record without its index keys is not listed', async () => {
      const store = await fresh();
      await addTasks(store, ['indexed'], 1_800_000_000);
      await store.keyv.set('task:raw', {
        schemaVersion: storeSchemaVersion,
        updatedAt: createdAt,
        record: record('raw'),
      });
      expect((await store.listTasks()).items.map((r) => r.id)).toEqual(['indexed']);
      expect(await store.getTask('raw')).toBeDefined();
    });

    it('listTasks() refuses a bad query with a ValidationError naming the field', async () => {
      const store = await fresh();
      await addTasks(store, ids('t', 3), 1_800_000_000);
      const page = await store.listTasks({ state: 'queued', limit: 1 });
      for (const [query, field] of [
        [{ limit: 0 }, 'limit'],
        [{ limit: 1001 }, 'limit'],
        [{ limit: 1.5 }, 'limit'],
        [{ cursor: 'not-a-cursor' }, 'cursor'],
        [{ state: 'running', cursor: page.nextCursor }, 'cursor'],
        [{ state: 'running', outcome: 'failed' }, 'state'],
        [{ state: 'asleep' as TaskState }, 'state'],
      ] as const) {
        await expect(store.listTasks(query)).rejects.toSatisfy(
          (err) => err instanceof ValidationError && err.field === field,
        );
      }
      expect((await store.listTasks({ limit: 1000 })).items).toHaveLength(3);
    });

    /** Saves a task that went queued → deleted with `outcome`, finished (deleted) at `finishedMs`. */
    const saveFinished = async (store: KeyvTaskStore, id: string, outcome: TaskOutcome, finishedMs: number) => {
      const at = new Date(finishedMs).toISOString();
      await store.saveTask(record(id), transition(id, null, 'queued'));
      await store.putLogSnapshot(snapshot(id, `log of ${id}\n`, true));
      await store.saveTask(
        record(id, 'deleted', { outcome, finishedAt: at, deletedAt: at }),
        transition(id, 'queued', 'deleted', at),
      );
    };
    /** Every key the store holds (without Keyv's namespace), through Keyv's own iterator. */
    const storedKeys = async (store: KeyvTaskStore): Promise<string[]> => {
      const keys: string[] = [];
      const iterate = store.keyv.iterator as ((namespace?: string) => AsyncGenerator<[string, unknown]>) | undefined;
      for await (const [key] of iterate?.call(store.keyv, store.keyv.namespace) ?? []) keys.push(key);
      return keys;
    };
    const base = Date.parse('2026-02-01T00:00:00.000Z');

    it('purgeFinished({ keepNewest }): removes all but the newest of one outcome, every key of each, nothing else', async () => {
      let store = await fresh();
      for (let i = 0; i < 5; i++) await saveFinished(store, `s${i}`, 'succeeded', base + i * 1000);
      await saveFinished(store, 'f0', 'failed', base);
      await store.saveTask(record('open', 'running'), transition('open', null, 'running'), {
        queue: { priority: 0, seq: 0 },
      });
      const keysBefore = await storedKeys(store);
      expect(keysBefore.some((key) => key.includes('s0'))).toBe(true);
      const result = await store.purgeFinished({ outcome: 'succeeded', keepNewest: 2 });
      expect([...result.ids].sort()).toEqual(['s0', 's1', 's2']);
      expect(result.more).toBe(false);
      store = await reopen(store);
      for (const id of ['s0', 's1', 's2']) {
        expect(await store.getTask(id)).toBeUndefined();
        expect(await store.getTransitions(id)).toEqual([]);
        expect(await store.getLogSnapshot(id)).toBeUndefined();
      }
      // Not one key of a purged task is left: record, history, log, listing and retention index.
      const left = await storedKeys(store);
      expect(left.filter((key) => /(^|:)s[012]$/.test(key))).toEqual([]);
      expect(keysBefore.length - left.length).toBeGreaterThanOrEqual(3 * 7);
      expect((await store.listTasks({ outcome: 'succeeded' })).items.map((r) => r.id).sort()).toEqual(['s3', 's4']);
      expect((await store.listTasks()).items.map((r) => r.id).sort()).toEqual(['f0', 'open', 's3', 's4']);
      expect((await store.listOpenTasks()).map((t) => t.record.id)).toEqual(['open']);
      expect(await store.getLogSnapshot('s3')).toBeDefined();
      // Nothing more to do: a second call finds nothing.
      expect(await store.purgeFinished({ outcome: 'succeeded', keepNewest: 2 })).toEqual({ ids: [], more: false });
    });

    it('purgeFinished({ finishedBefore }): only tasks finished before the time, by their deletedAt', async () => {
      const store = await fresh();
      for (let i = 0; i < 4; i++) await saveFinished(store, `t${i}`, 'failed', base + i * 60_000);
      await saveFinished(store, 'other', 'timedOut', base);
      const result = await store.purgeFinished({ outcome: 'failed', finishedBefore: base + 2 * 60_000 });
      expect(result).toEqual({ ids: ['t0', 't1'], more: false });
      expect((await store.listTasks({ outcome: 'failed' })).items.map((r) => r.id).sort()).toEqual(['t2', 't3']);
      expect(await store.getTask('other')).toBeDefined();
    });

    it('purgeFinished() works in bounded batches: more is true while a full batch was found', async () => {
      const store = await fresh();
      for (let i = 0; i < 7; i++) await saveFinished(store, `b${i}`, 'cancelled', base + i);
      const batches: string[][] = [];
      for (;;) {
        const { ids: batch, more } = await store.purgeFinished({
          outcome: 'cancelled',
          finishedBefore: base + 100,
          limit: 3,
        });
        batches.push(batch);
        if (!more) break;
      }
      expect(batches.map((b) => b.length)).toEqual([3, 3, 1]);
      expect(batches.flat()).toEqual(ids('b', 7));
      expect((await store.listTasks({ outcome: 'cancelled' })).items).toEqual([]);
    });

    it('purgeFinished({ dryRun }) names the candidates and removes nothing', async () => {
      const store = await fresh();
      for (let i = 0; i < 3; i++) await saveFinished(store, `d${i}`, 'succeeded', base + i);
      expect(await store.purgeFinished({ outcome: 'succeeded', keepNewest: 1, dryRun: true })).toEqual({
        ids: ['d0', 'd1'],
        more: false,
      });
      expect((await store.listTasks({ outcome: 'succeeded' })).items).toHaveLength(3);
    });

    it('purgeFinished() never touches open tasks nor a task with a write still queued', async () => {
      const store = await fresh();
      await saveFinished(store, 'again', 'succeeded', base);
      await saveFinished(store, 'old', 'succeeded', base + 1);
      for (const state of ['queued', 'running', 'succeeded', 'deleting'] as const) {
        await store.saveTask(record(`open-${state}`, state), transition(`open-${state}`, null, state), {
          queue: { priority: 0, seq: 0 },
        });
      }
      // The id is used again, and its new record is still queued when the purge looks.
      const readded = store.saveTask(record('again'), transition('again', null, 'queued'), {
        queue: { priority: 0, seq: 1 },
      });
      const result = await store.purgeFinished({ outcome: 'succeeded', keepNewest: 0 });
      await readded;
      expect(result.ids).toEqual(['old']);
      expect((await store.getTask('again'))?.state).toBe('queued');
      expect((await store.listOpenTasks()).map((t) => t.record.id).sort()).toEqual([
        'again',
        'open-deleting',
        'open-queued',
        'open-running',
        'open-succeeded',
      ]);
    });

    it('purgeFinished() refuses a bad query with a ValidationError naming the field', async () => {
      const store = await fresh();
      for (const [query, field] of [
        [{ outcome: 'lost' as TaskOutcome, keepNewest: 1 }, 'outcome'],
        [{ outcome: 'failed' }, 'finishedBefore'],
        [{ outcome: 'failed', keepNewest: -1 }, 'keepNewest'],
        [{ outcome: 'failed', finishedBefore: Number.NaN }, 'finishedBefore'],
        [{ outcome: 'failed', keepNewest: 1, limit: 0 }, 'limit'],
        [{ outcome: 'failed', keepNewest: 1, limit: 10_001 }, 'limit'],
      ] as const) {
        await expect(store.purgeFinished(query)).rejects.toSatisfy(
          (err) => err instanceof ValidationError && err.field === field,
        );
      }
    });

    it('cancel requests: stored durably, listed, replaced per task, cleared by id', async () => {
      let store = await fresh();
      await store.requestCancel({ taskId: 'c1', at: 1 });
      await store.requestCancel({ taskId: 'c2', at: 2 });
      await store.requestCancel({ taskId: 'c1', at: 3 });
      store = await reopen(store);
      const listed = await store.listCancelRequests();
      expect(listed.sort((a, b) => a.taskId.localeCompare(b.taskId))).toEqual([
        { taskId: 'c1', at: 3 },
        { taskId: 'c2', at: 2 },
      ]);
      await store.clearCancelRequests(['c1']);
      expect(await store.listCancelRequests()).toEqual([{ taskId: 'c2', at: 2 }]);
      // Cancel requests are no tasks: neither listed nor open.
      expect((await store.listTasks()).items).toEqual([]);
      expect(await store.listOpenTasks()).toEqual([]);
    });

    it('resetCaches(): a history another writer extended is read again, not overwritten from memory', async () => {
      const store = await fresh();
      await store.saveTask(record('shared', 'queued'), transition('shared', null, 'queued'));
      await store.saveTask(record('shared', 'creating'), transition('shared', 'queued', 'creating'));
      // Another replica (a leader since) appended a transition of its own.
      const theirs = [
        transition('shared', null, 'queued'),
        transition('shared', 'queued', 'creating'),
        transition('shared', 'creating', 'running'),
      ];
      await store.keyv.set('transitions:shared', {
        schemaVersion: storeSchemaVersion,
        updatedAt: createdAt,
        transitions: theirs,
      });
      store.resetCaches();
      await store.saveTask(record('shared', 'succeeded'), transition('shared', 'running', 'succeeded'));
      expect((await store.getTransitions('shared')).map((t) => t.to)).toEqual([
        'queued',
        'creating',
        'running',
        'succeeded',
      ]);
    });

    it('a deleted task leaves memory but its history stays complete', async () => {
      let store = await fresh();
      await Promise.all(saveLifecycle(store, 'gone'));
      // A later correction of the record (e.g. a cleanup error) appends after what is on disk.
      await store.saveTask(record('gone', 'deleted', { cleanupError: 'x' }), transition('gone', 'deleted', 'deleted'));
      store = await reopen(store);
      expect((await store.getTransitions('gone')).map((t) => t.to)).toEqual([...lifecycle, 'deleted']);
    });

    it('close() writes what was queued before it; later calls reject with StoreError', async () => {
      let store = await fresh();
      const queued = saveLifecycle(store, 'late');
      const log = store.putLogSnapshot(snapshot('late', 'bye\n', true));
      await store.close();
      await Promise.all([...queued, log]);
      await expect(store.saveTask(record('after'))).rejects.toBeInstanceOf(StoreError);
      await expect(store.putLogSnapshot(snapshot('after', ''))).rejects.toBeInstanceOf(StoreError);
      await expect(store.getTask('late')).rejects.toBeInstanceOf(StoreError);
      store = track(await harness.reopen(store));
      expect((await store.getTask('late'))?.state).toBe('deleted');
      expect(await store.getLogSnapshot('late')).toEqual(snapshot('late', 'bye\n', true));
    });
  });
}
