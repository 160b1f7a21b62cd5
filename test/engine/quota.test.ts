import { afterEach, expect, test } from 'vitest';
import { waitUntil } from '../helpers/wait.js';
import { behaviour, startEngine, type Engine } from './harness.js';
import { createQuota, quotaScenarioEngine, runQuotaScenario, watchQuotaWaits } from './quota-scenario.js';

/*
 * Quota as back-pressure, against the sim's ResourceQuota admission and Job controller: a task
 * whose Job or pods a quota refuses goes back to the queue (its Job deleted, its slot released,
 * its pending budget not spent), says so (`waitingFor: 'quota'` on its record, a `taskWaiting`
 * event) and starts again after a back-off; it never fails for quota unless it can never fit.
 */

let engine: Engine | undefined;
afterEach(async () => {
  await engine?.close();
  engine = undefined;
});

test('40 tasks, a quota of 5 pods, a cap of 20: none fails, the quota is never exceeded, all finish', async () => {
  engine = await startEngine(quotaScenarioEngine);
  await runQuotaScenario(engine, 40);
}, 120_000);

test('a quota on count/jobs.batch refuses the create: the task waits queued, then runs', async () => {
  engine = await startEngine({ runner: { maxConcurrentJobs: 5, requeueBackoff: { initialMs: 50, maxMs: 200 } } });
  const e = engine;
  await createQuota(e, { 'count/jobs.batch': '2' });
  const waits = watchQuotaWaits(e);
  const ids = Array.from({ length: 8 }, (_, i) => `j-${i}`);
  await e.runner.addTasks(ids.map((id) => ({ id, image: 'busybox', ...behaviour({ durationMs: 30 }) })));
  const done = await Promise.all(ids.map((id) => e.runner.waitFor(id, { timeoutMs: 60_000 })));
  expect(done.map((r) => r.outcome)).toEqual(ids.map(() => 'succeeded'));
  const refused = done.flatMap((r) => r.retries ?? []).filter((x) => x.reason === 'quota');
  expect(refused.length).toBeGreaterThan(0);
  expect(refused[0]?.message).toMatch(/^exceeded quota: q, requested: count\/jobs.batch=1, used: count\/jobs.batch=2/);
  expect(waits.seen.length).toBeGreaterThan(0);
});

test('a task that can never fit the quota fails at once with QuotaExceeded', async () => {
  engine = await startEngine();
  const e = engine;
  await createQuota(e, { 'requests.memory': '1Gi' });
  await e.runner.addTask({
    id: 'too-big',
    image: 'busybox',
    resources: { requests: { memory: '2Gi' }, limits: { memory: '2Gi' } },
  });
  const done = await e.runner.waitFor('too-big', { timeoutMs: 30_000 });
  expect(done.outcome).toBe('failed');
  expect(done.failure?.reason).toBe('QuotaExceeded');
  expect(done.failure?.message).toContain('limited: requests.memory=1Gi');
  expect(done.retries).toBeUndefined();
});

test('a task waiting for quota is still waiting after a restart, and runs once there is room', async () => {
  engine = await startEngine({ runner: { maxConcurrentJobs: 5, requeueBackoff: { initialMs: 100, maxMs: 200 } } });
  const e = engine;
  await createQuota(e, { 'count/jobs.batch': '1' });
  await e.runner.addTask({ id: 'holder', image: 'busybox', ...behaviour({ durationMs: 3000 }) });
  await waitUntil(async () => (await e.runner.getTask('holder'))?.state === 'running', 'holder running');
  await e.runner.addTask({ id: 'waiter', image: 'busybox', ...behaviour({ durationMs: 30 }) });
  const waiting = await waitUntil(async () => {
    const record = await e.runner.getTask('waiter');
    return record?.waitingFor === 'quota' ? record : undefined;
  }, 'the waiter queued again for quota');
  expect(waiting.state).toBe('queued');
  await e.runner.shutdown();

  const { createRunner } = await import('../../src/runner/create-runner.js');
  const next = await createRunner({
    kubeConfig: e.cluster.kubeConfig,
    namespace: 'default',
    store: e.runnerStore(),
    requeueBackoff: { initialMs: 100, maxMs: 200 },
  });
  try {
    const restored = await next.getTask('waiter');
    expect(restored?.retries?.[0]?.reason).toBe('quota');
    const done = await next.waitFor('waiter', { timeoutMs: 30_000 });
    expect(done.outcome).toBe('succeeded');
    expect((await next.waitFor('holder', { timeoutMs: 30_000 })).outcome).toBe('succeeded');
    // The waits went on after the restart: the task kept its history and counted on.
    expect(done.retries?.every((r) => r.reason === 'quota' && r.jobName === 'waiter')).toBe(true);
  } finally {
    await next.shutdown();
  }
}, 60_000);
