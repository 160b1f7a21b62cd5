import { CoreV1Api } from '@kubernetes/client-node';
import { expect } from 'vitest';
import type { RunnerEvent } from '../../src/runner/runner-events.js';
import type { TaskRecord } from '../../src/types.js';
import { waitUntil } from '../helpers/wait.js';
import { behaviour, ourJobs, type Engine, type EngineOptions } from './harness.js';

/*
 * The quota scenario (issue: quota as back-pressure): many tasks, a quota of 5 pods, a cap of
 * 20. Run with 40 tasks by `npm test` (test/engine/quota.test.ts) and 200 by `npm run test:slow`.
 */

/** The runner of the scenario: 20 slots, room for the whole batch in the queue, short back-offs. */
export const quotaScenarioEngine: EngineOptions = {
  runner: { maxConcurrentJobs: 20, queueSize: 1000, requeueBackoff: { initialMs: 50, maxMs: 400 } },
};

/** Creates ResourceQuota `q` in `default` and waits until the quota controller computed its usage. */
export async function createQuota(e: Engine, hard: Record<string, string>): Promise<void> {
  const core = e.cluster.kubeConfig.makeApiClient(CoreV1Api);
  await core.createNamespacedResourceQuota({ namespace: 'default', body: { metadata: { name: 'q' }, spec: { hard } } });
  await waitUntil(
    async () => (await core.readNamespacedResourceQuota({ namespace: 'default', name: 'q' })).status?.used,
    'the quota controller computed the usage',
  );
}

/** Pods that hold quota now (not finished, not being deleted). */
function livePods(e: Engine): number {
  return e.cluster
    .objects('pods')
    .filter((p) => !p.metadata.deletionTimestamp && (p.status?.phase === 'Pending' || p.status?.phase === 'Running'))
    .length;
}

/** Records of tasks said to wait for quota, read when the runner said so (`taskWaiting`). */
export function watchQuotaWaits(e: Engine): { seen: Promise<TaskRecord | undefined>[] } {
  const seen: Promise<TaskRecord | undefined>[] = [];
  e.runner.events$.subscribe((event: RunnerEvent) => {
    if (event.kind === 'taskWaiting' && event.waitingFor === 'quota') seen.push(e.runner.getTask(event.taskId));
  });
  return { seen };
}

/**
 * Runs `scenarioTasks` short tasks into a namespace whose quota allows 5 pods: none fails, the
 * quota is never exceeded (live pods and `status.used`), every task finishes, and tasks were seen
 * waiting with `waitingFor: 'quota'`.
 */
export async function runQuotaScenario(e: Engine, scenarioTasks: number): Promise<void> {
  await createQuota(e, { pods: '5' });
  let peakPods = 0;
  let peakUsed = 0;
  const stop = e.cluster.onChange(({ resource, object }) => {
    if (resource === 'pods') peakPods = Math.max(peakPods, livePods(e));
    if (resource === 'resourcequotas') peakUsed = Math.max(peakUsed, Number(object.status?.used?.['pods'] ?? 0));
  });
  const waits = watchQuotaWaits(e);
  const ids = Array.from({ length: scenarioTasks }, (_, i) => `q-${i}`);
  const added = await e.runner.addTasks(
    ids.map((id) => ({ id, image: 'busybox', ...behaviour({ durationMs: 30, logs: [`hello from ${id}`] }) })),
  );
  expect(added.flatMap((r) => (r.ok ? [] : [r.error.message]))).toEqual([]);
  const done = await Promise.all(ids.map((id) => e.runner.waitFor(id, { timeoutMs: 170_000 })));
  stop();

  expect(done.filter((r) => r.outcome !== 'succeeded').map((r) => [r.id, r.outcome, r.failure?.reason])).toEqual([]);
  expect(peakPods).toBeLessThanOrEqual(5);
  expect(peakUsed).toBeLessThanOrEqual(5);
  // The cap let 20 Jobs at a time ask for 5 pods: the quota pushed back, and tasks waited for it.
  const waited = done.filter((r) => r.retries?.some((x) => x.reason === 'quota'));
  expect(waited.length).toBeGreaterThan(0);
  const records = await Promise.all(waits.seen);
  expect(records.length).toBeGreaterThan(0);
  expect(records.some((r) => r?.state === 'queued' && r.waitingFor === 'quota' && r.waitingUntil)).toBe(true);
  // A quota wait is not an attempt: every task finished on its first.
  expect(done.every((r) => (r.attempt ?? 1) === 1)).toBe(true);
  expect(ourJobs(e.cluster)).toHaveLength(0);
}
