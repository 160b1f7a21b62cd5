import { join } from 'node:path';
import KeyvSqlite from '@keyv/sqlite';
import Keyv from 'keyv';
import { afterEach, expect, test } from 'vitest';
import { DuplicateTaskError, QueueFullError, RunnerClosedError, ValidationError } from '../../src/errors.js';
import type { AddTaskResult } from '../../src/runner/runner-api.js';
import { openKey, storeNamespace } from '../../src/store/layout.js';
import type { TaskInput } from '../../src/validation/task-spec.js';
import type { Transition } from '../../src/types.js';
import { waitUntil } from '../helpers/wait.js';
import { behaviour, startEngine, type Engine } from './harness.js';

/*
 * `addTasks` against the sim with the real client-node, on a real SQLite file. One slot, held by a
 * blocker, so the added tasks stay queued (and the sim stays idle).
 */

let engine: Engine | undefined;
afterEach(async () => {
  await engine?.close();
  engine = undefined;
});

const forever = behaviour({ durationMs: -1 });
const quick = behaviour({ durationMs: 10 });
const task = (id: string, more: Partial<TaskInput> = {}): TaskInput => ({ id, image: 'busybox', ...quick, ...more });

async function addBlocker(e: Engine): Promise<void> {
  await e.runner.addTask({ id: 'blocker', image: 'busybox', ...forever });
  await waitUntil(async () => (await e.runner.getTask('blocker')).state === 'running', 'the blocker to run');
}

const summary = (results: AddTaskResult[]) =>
  results.map((r) => (r.ok ? [r.id, 'ok'] : [r.id, (r.error as { code: string }).code]));

test('per-task results in input order: invalid, duplicates (in the batch and stored), queue full; never thrown', async () => {
  engine = await startEngine({ runner: { maxConcurrentJobs: 1, queueSize: 4 } });
  const { runner } = engine;
  await addBlocker(engine);
  await runner.addTask(task('stored'));
  const seen: Transition[] = [];
  const subscription = runner.transitions$.subscribe((t) => seen.push(t));
  const results = await runner.addTasks([
    task('a'),
    { id: 'bad', image: '' },
    task('stored', { command: ['other'] }),
    task('stored'),
    task('a'),
    task('a', { priority: 3 }),
    task('privileged', {
      podTemplate: {
        spec: { containers: [{ name: 'task', image: 'busybox', securityContext: { privileged: true } }] },
      },
    }),
    task('b'),
    task('c'),
    task('d'),
    { image: 'busybox' } as TaskInput,
  ]);
  subscription.unsubscribe();
  expect(summary(results)).toEqual([
    ['a', 'ok'],
    ['bad', 'VALIDATION'],
    ['stored', 'DUPLICATE_TASK'],
    ['stored', 'ok'], // the identical spec again: a no-op, as for addTask
    ['a', 'ok'], // repeated in the batch with the identical spec: the same task
    ['a', 'DUPLICATE_TASK'], // repeated with another spec
    ['privileged', 'VALIDATION'], // the runner's podSecurity level (baseline)
    ['b', 'ok'],
    ['c', 'ok'],
    ['d', 'QUEUE_FULL'], // queueSize 4: stored, a, b, c
    ['', 'VALIDATION'],
  ]);
  const errors = results.flatMap((r) => (r.ok ? [] : [r.error]));
  expect(errors.map((e) => e.constructor)).toEqual([
    ValidationError,
    DuplicateTaskError,
    DuplicateTaskError,
    ValidationError,
    QueueFullError,
    ValidationError,
  ]);
  expect((results[6] as { error: ValidationError }).error.message).toContain('privileged');
  // Only the new tasks were stored and announced, once each, and they are queued.
  expect(seen.map((t) => `${t.taskId}:${t.to}`)).toEqual(['a:queued', 'b:queued', 'c:queued']);
  for (const id of ['a', 'b', 'c']) expect((await runner.getTask(id)).state).toBe('queued');
  for (const id of ['d', 'privileged']) await expect(runner.getTask(id)).rejects.toThrow(/not found/i);
  expect(runner.health().queue.depth).toBe(4);

  // They run as any task does.
  await runner.cancel('blocker');
  const records = await Promise.all(['stored', 'a', 'b', 'c'].map((id) => runner.waitFor(id)));
  expect(records.map((r) => r.outcome)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);
});

test('1,000 new tasks are stored in ONE SQLite transaction (more entries than a group-commit batch holds)', async () => {
  const dir = await import('node:fs/promises').then((fs) => fs.mkdtemp(join(process.cwd(), '.tmp-add-tasks-')));
  const sqlite = new KeyvSqlite({ uri: `sqlite://${join(dir, 'store.sqlite')}`, busyTimeout: 5000 });
  // Every write the store makes, as transactions: BEGIN … COMMIT, or one statement on its own.
  const transactions: string[][] = [];
  let open: string[] | undefined;
  const query = sqlite.query.bind(sqlite);
  sqlite.query = async (sql: string, ...params: unknown[]) => {
    const verb = sql.trimStart().slice(0, 6).toUpperCase();
    const text = JSON.stringify(params);
    if (verb.startsWith('BEGIN')) open = [];
    else if (verb.startsWith('COMMIT') || verb.startsWith('ROLLBA')) {
      if (open && verb.startsWith('COMMIT')) transactions.push(open);
      open = undefined;
    } else if (verb.startsWith('INSERT') || verb.startsWith('DELETE')) {
      if (open) open.push(text);
      else transactions.push([text]);
    }
    return query(sql, ...params);
  };
  try {
    engine = await startEngine({
      runner: { maxConcurrentJobs: 1, queueSize: 2000, store: new Keyv({ store: sqlite, namespace: storeNamespace }) },
    });
    await addBlocker(engine);
    const ids = Array.from({ length: 1000 }, (_, i) => `bulk-${i}`);
    transactions.length = 0;
    const results = await engine.runner.addTasks(ids.map((id) => task(id)));
    expect(results.filter((r) => !r.ok)).toEqual([]);
    const holding = transactions.filter((statements) =>
      ids.some((id) => statements.some((s) => s.includes(openKey(id)))),
    );
    expect(holding).toHaveLength(1);
    const [batch] = holding;
    expect(ids.filter((id) => !batch?.some((s) => s.includes(`"${storeNamespace}:${openKey(id)}"`)))).toEqual([]);
  } finally {
    await engine?.close();
    engine = undefined;
    await import('node:fs/promises').then((fs) => fs.rm(dir, { recursive: true, force: true }));
  }
});

test('a closed runner rejects the whole call with RunnerClosedError; an aborted signal stores nothing', async () => {
  engine = await startEngine({ runner: { maxConcurrentJobs: 1 } });
  const { runner } = engine;
  const aborted = AbortSignal.abort(new Error('changed my mind'));
  await expect(runner.addTasks([task('x')], { signal: aborted })).rejects.toThrow('changed my mind');
  await expect(runner.getTask('x')).rejects.toThrow(/not found/i);
  await runner.shutdown();
  await expect(runner.addTasks([task('y')])).rejects.toBeInstanceOf(RunnerClosedError);
});

test('the same id added concurrently (addTask twice, and addTasks beside them) is stored once, with one first transition', async () => {
  engine = await startEngine({ runner: { maxConcurrentJobs: 1 } });
  const { runner } = engine;
  await addBlocker(engine);
  const [a, b, [c]] = await Promise.all([
    runner.addTask(task('twice')),
    runner.addTask(task('twice')),
    runner.addTasks([task('twice')]),
  ]);
  expect(a).toEqual(b);
  expect(c).toMatchObject({ ok: true, record: a });
  await runner.shutdown();
  const store = await engine.openStore();
  try {
    const history: Transition[] = await store.getTransitions('twice');
    expect(history.map((t) => [t.from, t.to])).toEqual([[null, 'queued']]);
  } finally {
    await store.close();
  }
});
