import { afterAll, beforeAll, expect, test } from 'vitest';
import { createQuota } from '../engine/quota-scenario.js';
import { behaviour, startEngine, type Engine } from '../engine/harness.js';
import { waitUntil } from '../helpers/wait.js';
import { serveDashboard, type Served } from './harness.js';

/*
 * A task queued again because a ResourceQuota had no room for its Job (`waitingFor: 'quota'`), on
 * a real runner and the sim's quota admission: the queue list says so in its reason column, the
 * task page says until when, and its Retries section lists the refusal.
 */

let engine: Engine;
let served: Served;

beforeAll(async () => {
  // A long back-off keeps the waiter queued between tries, where the pages can see it.
  engine = await startEngine({ runner: { maxConcurrentJobs: 5, requeueBackoff: { initialMs: 2000, maxMs: 2000 } } });
  await createQuota(engine, { 'count/jobs.batch': '1' });
  await engine.runner.addTask({ id: 'holder', image: 'busybox', ...behaviour({ durationMs: -1 }) });
  await waitUntil(async () => (await engine.runner.getTask('holder'))?.state === 'running', 'holder running');
  await engine.runner.addTask({ id: 'waiter', image: 'busybox', ...behaviour({ durationMs: 30 }) });
  served = await serveDashboard({ runner: engine.runner });
});

afterAll(async () => {
  await served?.close();
  await engine?.close();
});

/** The page at `path` once `seen` finds what it looks for (the waiter tries again every 2 s). */
const pageWhere = (path: string, seen: RegExp): Promise<string> =>
  waitUntil(async () => {
    const body = await (await fetch(new URL(path, served.url))).text();
    return seen.test(body) ? body : undefined;
  }, `${path} to match ${seen}`);

test('a task waiting for quota says so in the queue list and on its page', async () => {
  const row = /<tr data-task="waiter"[\s\S]*?<\/tr>/;
  const queue = await pageWhere('', /<td class="cell-state">queued<\/td>[\s\S]*?waiting for quota until/);
  expect(row.exec(queue)?.[0]).toMatch(/<td>waiting for quota until \d\d:\d\d:\d\d UTC<\/td>/);
  const page = await pageWhere('tasks/waiter', /waiting for quota until \d\d:\d\d:\d\d UTC/);
  expect(page).toContain('<h2 id="retries-h">Retries</h2>');
  expect(page).toMatch(/<tr data-retry="quota">[\s\S]*?<td>new Job<\/td>[\s\S]*?exceeded quota: q/);
  await engine.runner.cancel('holder');
  expect((await engine.runner.waitFor('waiter', { timeoutMs: 30_000 })).outcome).toBe('succeeded');
  // Finished, it waits for nothing any more.
  expect(await (await fetch(new URL('tasks/waiter', served.url))).text()).not.toContain('waiting for quota');
});
