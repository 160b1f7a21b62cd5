import { readFile } from 'node:fs/promises';
import { BatchV1Api } from '@kubernetes/client-node';
import { afterEach, expect, test } from 'vitest';
import type { RunnerEvent } from '../../src/runner/runner-events.js';
import { policyRulesFromManifest } from '../../src/sim/index.js';
import { waitUntil } from '../helpers/wait.js';
import { behaviour, ourJobs, startEngine, type Engine } from './harness.js';
import { serviceAccountToken } from './rbac-mode.js';

/*
 * Logs are never lost silently. A final log read that fails is retried with back-off while the
 * task stays in its outcome state, so the Job (and its pod's log) is kept; once
 * `logs.harvestRetryLimitMs` has passed since the outcome, the record says `logs.lost` with the
 * reason, `events$` reports `logsLost`, the outcome is untouched, and the Job is deleted.
 * Everything is real: client-node over HTTP, the sim's RBAC and fault injection, a SQLite store.
 */

let engine: Engine | undefined;
afterEach(async () => {
  await engine?.close();
  engine = undefined;
});

/** The Role of `deploy/rbac.yaml` without its `pods/log` rule. */
async function rulesWithoutPodLogs() {
  const manifest = await readFile(new URL('../../deploy/rbac.yaml', import.meta.url), 'utf8');
  const rules = policyRulesFromManifest(manifest).filter((rule) => !rule.resources?.includes('pods/log'));
  expect(rules.some((rule) => rule.resources?.includes('jobs'))).toBe(true);
  return rules;
}

const limitMs = 1500;

test('without pods/log permission: retried until the limit, then the record says logs lost, the outcome stands, the Job is deleted', async () => {
  engine = await startEngine({
    cluster: { rbac: { rules: await rulesWithoutPodLogs(), namespace: 'default', token: serviceAccountToken } },
    runner: {
      logs: { harvestRetryLimitMs: limitMs },
      retry: { maxAttempts: 2, baseDelayMs: 20, maxDelayMs: 200 },
    },
  });
  const { runner, cluster } = engine;
  const events: RunnerEvent[] = [];
  const subscription = runner.events$.subscribe((e) => events.push(e));
  await runner.addTask({ id: 'no-log-access', image: 'busybox', ...behaviour({ exitCode: 3, logs: ['boom'] }) });
  const record = await runner.waitFor('no-log-access');
  subscription.unsubscribe();

  // The outcome is the container's, as if the logs had been read.
  expect(record).toMatchObject({ state: 'deleted', outcome: 'failed', failure: { reason: 'BackoffLimitExceeded' } });
  expect(record.logs).toEqual({ lost: true, reason: expect.stringContaining('pods/log') });
  expect(record.logs?.reason).toContain(record.jobName);
  expect(await runner.getTask('no-log-access')).toEqual(record);

  // Reported once on events$, with the record's reason.
  const lost = events.filter((e) => e.kind === 'logsLost');
  expect(lost).toEqual([
    {
      kind: 'logsLost',
      taskId: 'no-log-access',
      jobName: record.jobName,
      outcome: 'failed',
      reason: record.logs?.reason,
    },
  ]);

  // Retried (every read refused), and the Job kept until the limit after the outcome had passed.
  const logReads = cluster.requests().filter((r) => r.resource === 'pods/log');
  expect(logReads.length).toBeGreaterThanOrEqual(2);
  expect(new Set(logReads.map((r) => r.status))).toEqual(new Set([403]));
  const deletes = cluster.requests().filter((r) => r.verb === 'delete' && r.resource === 'jobs');
  expect(deletes.map((r) => r.name)).toEqual([record.jobName]);
  expect(deletes[0]?.at).toBeGreaterThanOrEqual(Date.parse(record.finishedAt ?? '') + limitMs);
  expect(ourJobs(cluster)).toEqual([]);
});

test('the log endpoint failing for a while, then recovering: the logs are harvested, not lost, and only then the Job is deleted', async () => {
  // 503s on every log read, six of them: more than the client's own two attempts per read, so
  // the final read itself fails (at least three times) and has to be retried by the harvest.
  const failures = 6;
  engine = await startEngine({
    cluster: { faults: { errors: [{ verbs: ['get'], resources: ['pods/log'], status: 503, times: failures }] } },
    runner: {
      logs: { harvestRetryLimitMs: 120_000 },
      retry: { maxAttempts: 2, baseDelayMs: 20, maxDelayMs: 200 },
    },
  });
  const { runner, cluster } = engine;
  const events: RunnerEvent[] = [];
  const subscription = runner.events$.subscribe((e) => events.push(e));
  await runner.addTask({ id: 'flaky-logs', image: 'busybox', ...behaviour({ logs: ['first line', 'last line'] }) });
  const record = await runner.waitFor('flaky-logs');
  subscription.unsubscribe();

  expect(record).toMatchObject({ state: 'deleted', outcome: 'succeeded' });
  expect(record.logs).toBeUndefined();
  expect(events.filter((e) => e.kind === 'logsLost')).toEqual([]);
  expect(await runner.getLogs('flaky-logs')).toBe('first line\nlast line\n');

  const logReads = cluster.requests().filter((r) => r.resource === 'pods/log');
  expect(logReads.map((r) => r.status)).toEqual([...Array<number>(failures).fill(503), 200]);
  const deletes = cluster.requests().filter((r) => r.verb === 'delete' && r.resource === 'jobs');
  expect(deletes.map((r) => r.name)).toEqual([record.jobName]);
  expect(deletes[0]?.at).toBeGreaterThanOrEqual(logReads.at(-1)?.at ?? Infinity);
  expect(ourJobs(cluster)).toEqual([]);
});

test('the pod removed while its log reads are failing (someone deleted the Job): the logs are lost, and the record says so', async () => {
  engine = await startEngine({
    cluster: { faults: { errors: [{ verbs: ['get'], resources: ['pods/log'], status: 503 }] } },
    runner: {
      logs: { harvestRetryLimitMs: 600_000 },
      retry: { maxAttempts: 1, baseDelayMs: 20, maxDelayMs: 200 },
    },
  });
  const { runner, cluster } = engine;
  const outcome = new Promise<void>((resolve) => {
    const subscription = runner.transitions$.subscribe((t) => {
      if (t.taskId === 'pod-gone' && t.to === 'succeeded') {
        subscription.unsubscribe();
        resolve();
      }
    });
  });
  await runner.addTask({ id: 'pod-gone', image: 'busybox', ...behaviour({ logs: ['never read'] }) });
  await outcome;
  const failedReads = () => cluster.requests().filter((r) => r.resource === 'pods/log' && r.status === 503).length;
  await waitUntil(() => failedReads() >= 2, 'the harvest to retry');
  const { jobName } = await runner.getTask('pod-gone');
  await cluster.kubeConfig
    .makeApiClient(BatchV1Api)
    .deleteNamespacedJob({ name: jobName, namespace: 'default', propagationPolicy: 'Background' });

  // Long before the limit: the next read finds no pod, and the failed reads mean the logs are lost.
  const record = await runner.waitFor('pod-gone');
  expect(record).toMatchObject({ state: 'deleted', outcome: 'succeeded' });
  expect(record.logs).toEqual({ lost: true, reason: expect.stringContaining('were gone before a read succeeded') });
  expect(record.logs?.reason).toContain('503');
  expect(ourJobs(cluster)).toEqual([]);
});
