import { afterEach, expect, test } from 'vitest';
import { openTaskStore } from '../../src/store/open-store.js';
import { behaviour, creationsByName, ourJobs } from '../engine/harness.js';
import { waitUntil } from '../helpers/wait.js';
import { startRecovery, type Recovery } from './harness.js';

/* shutdown's modes, each judged by what the next runner on the same file finds. */

let recovery: Recovery | undefined;
afterEach(async () => {
  await recovery?.close();
  recovery = undefined;
});

async function storedState(storeUrl: string, id: string): Promise<unknown> {
  const store = await openTaskStore(storeUrl);
  try {
    return await store.getTask(id);
  } finally {
    await store.close();
  }
}

test("shutdown 'drain' waits for the active task to finish and leaves the queued one queued for the next runner", async () => {
  recovery = await startRecovery();
  const first = await recovery.start({ maxConcurrentJobs: 1 });
  await first.addTask({ id: 'active', image: 'busybox', ...behaviour({ durationMs: 500 }) });
  await first.addTask({ id: 'waiting', image: 'busybox' });
  await waitUntil(async () => (await first.getTask('active')).state === 'running', 'the first task to run');
  await first.shutdown({ mode: 'drain' });
  expect(await storedState(recovery.storeUrl, 'active')).toMatchObject({ state: 'deleted', outcome: 'succeeded' });
  expect(await storedState(recovery.storeUrl, 'waiting')).toMatchObject({ state: 'queued' });
  expect(ourJobs(recovery.cluster)).toEqual([]);

  const second = await recovery.start({ maxConcurrentJobs: 1 });
  expect((await second.waitFor('waiting')).outcome).toBe('succeeded');
  expect(Object.fromEntries(creationsByName(recovery.cluster))).toEqual({ active: 1, waiting: 1 });
});

test("shutdown 'cancel' cancels the active task and deletes its Job; the queued one stays queued", async () => {
  recovery = await startRecovery();
  const first = await recovery.start({ maxConcurrentJobs: 1 });
  await first.addTask({ id: 'endless', image: 'busybox', ...behaviour({ durationMs: -1 }) });
  await first.addTask({ id: 'next', image: 'busybox' });
  await waitUntil(async () => (await first.getTask('endless')).state === 'running', 'the first task to run');
  await first.shutdown({ mode: 'cancel' });
  expect(await storedState(recovery.storeUrl, 'endless')).toMatchObject({ state: 'deleted', outcome: 'cancelled' });
  expect(await storedState(recovery.storeUrl, 'next')).toMatchObject({ state: 'queued' });
  expect(ourJobs(recovery.cluster)).toEqual([]);

  const second = await recovery.start();
  expect((await second.waitFor('next')).outcome).toBe('succeeded');
});

test("shutdown 'detach' leaves the running Job in the cluster and the next runner re-attaches without a second create", async () => {
  recovery = await startRecovery();
  const first = await recovery.start();
  await first.addTask({ id: 'detached', image: 'busybox', ...behaviour({ durationMs: 800 }) });
  await waitUntil(async () => (await first.getTask('detached')).state === 'running', 'the task to run');
  await first.shutdown({ mode: 'detach' });
  expect(await storedState(recovery.storeUrl, 'detached')).toMatchObject({ state: 'running' });
  expect(ourJobs(recovery.cluster).map((j) => j.metadata.name)).toEqual(['detached']);
  const second = await recovery.start();
  expect((await second.waitFor('detached')).outcome).toBe('succeeded');
  expect(Object.fromEntries(creationsByName(recovery.cluster))).toEqual({ detached: 1 });
});
