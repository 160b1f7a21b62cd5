import { expect, test } from 'vitest';
import { TaskRegistry } from '../../src/runner/task-registry.js';
import type { TaskRecord, TaskState } from '../../src/types.js';

const record = (id: string, state: TaskState): TaskRecord => ({
  id,
  spec: { id, image: 'busybox' },
  state,
  jobName: `job-${id}`,
  createdAt: '2026-01-01T00:00:00.000Z',
});

test('evict: a deleted task leaves the open records for the finished cache, then memory, oldest first', () => {
  const registry = new TaskRegistry(undefined, 2);
  for (const id of ['a', 'b', 'c']) registry.update(record(id, 'deleted'));
  registry.update(record('open', 'running'));
  expect(registry).toMatchObject({ size: 4, openCount: 4 });
  registry.evict('open'); // not finished: stays
  for (const id of ['a', 'b']) registry.evict(id);
  expect(registry).toMatchObject({ size: 4, openCount: 2 });
  registry.get('a'); // used: 'b' is now the oldest
  registry.evict('c');
  expect(registry).toMatchObject({ size: 3, openCount: 1 });
  expect(registry.has('b')).toBe(false);
  expect(registry.get('b')).toBeUndefined();
  expect(registry.list().map((r) => r.id)).toEqual(['open', 'a', 'c']);
});

test('waitFor: resolved when the deleted record arrives, before the task is evicted; at once from the cache after', async () => {
  const registry = new TaskRegistry(undefined, 1);
  registry.update(record('t', 'running'));
  const waiting = registry.waitFor('t');
  registry.update(record('t', 'deleted'));
  registry.evict('t');
  await expect(waiting).resolves.toMatchObject({ id: 't', state: 'deleted' });
  await expect(registry.waitFor('t')).resolves.toMatchObject({ state: 'deleted' });
  expect(registry.waiterCount).toBe(0);
});

test('a cache of 0 keeps only open tasks; queued counts follow updates', () => {
  const registry = new TaskRegistry(undefined, 0);
  registry.update(record('t', 'queued'));
  expect(registry.queuedCount).toBe(1);
  registry.update(record('t', 'deleted'));
  expect(registry.queuedCount).toBe(0);
  registry.evict('t');
  expect(registry).toMatchObject({ size: 0, openCount: 0 });
  expect(registry.get('t')).toBeUndefined();
});
