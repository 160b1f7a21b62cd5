import Keyv from 'keyv';
import { afterEach, expect, test } from 'vitest';
import { TaskNotFoundError } from '../../src/errors.js';
import type { RunnerEvent } from '../../src/runner/runner-events.js';
import { storeNamespace } from '../../src/store/layout.js';
import type { TaskOutcome } from '../../src/types.js';
import { waitUntil } from '../helpers/wait.js';
import { behaviour, startEngine, type Engine } from './harness.js';

/*
 * Retention through the public API: the background purge removes finished tasks past their
 * outcome's rule, from the store and from the runner's memory, and never an open task.
 */

let engine: Engine | undefined;
afterEach(async () => {
  await engine?.close();
  engine = undefined;
});

const forever = behaviour({ durationMs: -1 });

/** Counts the store's finished tasks of `outcome` through the runner (pages of `listTasks`). */
async function storedWith(e: Engine, outcome: TaskOutcome): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await e.runner.listTasks({ outcome, limit: 1000, ...(cursor ? { cursor } : {}) });
    ids.push(...page.items.map((r) => r.id));
    cursor = page.nextCursor;
  } while (cursor);
  return ids;
}

test('retention { succeeded: { maxCount: 3 } }: the store ends with 3 succeeded tasks, open ones untouched', async () => {
  engine = await startEngine({
    runner: { maxConcurrentJobs: 4, retention: { succeeded: { maxCount: 3 }, intervalMs: 20, batchSize: 2 } },
  });
  const { runner } = engine;
  const events: RunnerEvent[] = [];
  runner.events$.subscribe((event) => events.push(event));
  await runner.addTask({ id: 'open', image: 'busybox', ...forever });
  await runner.addTask({ id: 'failing', image: 'busybox', ...behaviour({ exitCode: 2 }) });
  for (let i = 0; i < 8; i++) {
    await runner.addTask({ id: `ok-${String(i)}`, image: 'busybox', command: ['true'] });
    expect((await runner.waitFor(`ok-${String(i)}`)).outcome).toBe('succeeded');
  }
  expect((await runner.waitFor('failing')).outcome).toBe('failed');
  const kept = await waitUntil(async () => {
    const ids = await storedWith(engine!, 'succeeded');
    return ids.length <= 3 ? ids : undefined;
  }, 'the purge to leave 3 succeeded tasks');
  // The newest three (the tasks ran one after the other) stay; the older ones are gone everywhere.
  expect(kept.sort()).toEqual(['ok-5', 'ok-6', 'ok-7']);
  for (let i = 0; i < 5; i++) {
    await expect(runner.getTask(`ok-${String(i)}`)).rejects.toBeInstanceOf(TaskNotFoundError);
    await expect(runner.getLogs(`ok-${String(i)}`)).rejects.toThrow();
  }
  expect((await runner.getTask('open'))?.state).toBe('running');
  expect((await runner.getTask('failing'))?.outcome).toBe('failed');
  const purged = await runner.metrics.getSingleMetric('k8s_jobs_purged_tasks_total')?.get();
  expect(purged?.values.find((v) => v.labels.outcome === 'succeeded')?.value).toBe(5);
  const size = await runner.metrics.getSingleMetric('k8s_jobs_store_size_bytes')?.get();
  if (engine.storeUrl.startsWith('sqlite://')) expect(size?.values[0]?.value).toBeGreaterThan(0);
  expect(events.filter((e) => e.kind === 'retentionFailed')).toEqual([]);
  await runner.cancel('open');
  expect((await runner.waitFor('open')).outcome).toBe('cancelled');
}, 60_000);

test('retention { failed: { maxAgeSeconds } }: tasks that finished longer ago than that are purged, by the runner clock', async () => {
  engine = await startEngine({ runner: { retention: { failed: { maxAgeSeconds: 3600 }, intervalMs: 20 } } });
  await engine.runner.shutdown();
  // Two failures from before the runner started: one ten days ago, one a minute ago.
  const store = await engine.openStore();
  const at = (msAgo: number) => new Date(Date.now() - msAgo).toISOString();
  for (const [id, msAgo] of [
    ['old', 10 * 24 * 3600_000],
    ['recent', 60_000],
  ] as const) {
    const record = {
      id,
      spec: { id, image: 'busybox' },
      jobName: id,
      createdAt: at(msAgo + 1000),
      finishedAt: at(msAgo),
      deletedAt: at(msAgo),
      state: 'deleted' as const,
      outcome: 'failed' as const,
    };
    await store.saveTask(record, { taskId: id, from: null, to: 'deleted', event: 'seed', at: at(msAgo) });
  }
  await store.close();
  const { cluster } = engine;
  const { createRunner } = await import('../../src/runner/create-runner.js');
  const runner = await createRunner({
    kubeConfig: cluster.kubeConfig,
    namespace: 'default',
    store: engine.runnerStore(),
    retention: { failed: { maxAgeSeconds: 3600 }, intervalMs: 20 },
  });
  try {
    await waitUntil(
      () =>
        runner.getTask('old').then(
          () => false,
          (err: unknown) => err instanceof TaskNotFoundError,
        ),
      'the old failure to be purged',
    );
    expect((await runner.getTask('recent'))?.outcome).toBe('failed');
  } finally {
    await runner.shutdown();
  }
}, 60_000);

test('a purge that fails is reported on events$ (retentionFailed) and tried again at the next interval', async () => {
  // A Map that can be told to fail when iterated: the purge's index read (a prefix scan on Keyv over a Map).
  class FailingMap<K, V> extends Map<K, V> {
    failing = false;
    override [Symbol.iterator](): MapIterator<[K, V]> {
      if (this.failing) throw new Error('disk on fire');
      return super[Symbol.iterator]();
    }
  }
  const map = new FailingMap<string, unknown>();
  engine = await startEngine({
    runner: {
      store: new Keyv({ store: map, namespace: storeNamespace }),
      retention: { succeeded: { maxCount: 0 }, intervalMs: 20 },
    },
  });
  const { runner } = engine;
  const events: RunnerEvent[] = [];
  runner.events$.subscribe((event) => events.push(event));
  map.failing = true;
  await waitUntil(() => events.filter((e) => e.kind === 'retentionFailed').length >= 2, 'two failed rounds');
  expect(events.find((e) => e.kind === 'retentionFailed')).toEqual({
    kind: 'retentionFailed',
    outcome: 'succeeded',
    error: expect.stringContaining('disk on fire'),
  });
  // Once the store answers again, the purge does its work.
  map.failing = false;
  await runner.addTask({ id: 'done', image: 'busybox', command: ['true'] });
  await runner.waitFor('done');
  await waitUntil(
    () =>
      runner.getTask('done').then(
        () => false,
        (err: unknown) => err instanceof TaskNotFoundError,
      ),
    'the finished task to be purged',
  );
}, 60_000);
