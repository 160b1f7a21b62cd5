import { afterAll, beforeAll, expect, test } from 'vitest';
import { waitUntil } from '../helpers/wait.js';
import { behaviour, creationsByName, ourJobs, startEngine, type Engine } from './harness.js';
import { createPreexistingJob } from './preexisting-job.js';

/*
 * Every outcome a container can cause, each for its own reason, with the record's outcome and
 * failure fields, and the sim's end state: exactly one Job create per task, no Job left.
 */

let engine: Engine;
beforeAll(async () => {
  engine = await startEngine({ runner: { maxConcurrentJobs: 10 } });
});
afterAll(async () => {
  await engine.close();
});

/** One Job was created for the task, and none of ours is left after cleanup. */
function expectCleanAudit(jobName: string): void {
  expect(creationsByName(engine.cluster).get(jobName)).toBe(1);
  expect(ourJobs(engine.cluster).map((j) => j.metadata.name)).not.toContain(jobName);
}

test('a container that exits 0 makes the task succeed, with no failure recorded', async () => {
  const { runner } = engine;
  await runner.addTask({ id: 'exit-0', image: 'busybox', ...behaviour({ durationMs: 30, logs: ['hello'] }) });
  const record = await runner.waitFor('exit-0');
  expect(record).toMatchObject({ state: 'deleted', outcome: 'succeeded' });
  expect(record.failure).toBeUndefined();
  expect(record.startedAt).toBeDefined();
  expect(record.finishedAt).toBeDefined();
  expectCleanAudit('exit-0');
});

test('a container that exits 3 fails the task with exit code 3 and its last log lines', async () => {
  const { runner } = engine;
  await runner.addTask({
    id: 'exit-3',
    image: 'busybox',
    ...behaviour({ durationMs: 30, exitCode: 3, logs: ['working', 'boom'] }),
  });
  const record = await runner.waitFor('exit-3');
  expect(record).toMatchObject({ state: 'deleted', outcome: 'failed' });
  expect(record.failure).toMatchObject({
    reason: 'BackoffLimitExceeded',
    exitCode: 3,
    oomKilled: false,
    lastLogLines: ['working', 'boom'],
  });
  expect(record.failure?.message).toContain('exited with code 3');
  expectCleanAudit('exit-3');
});

test('a container killed for memory fails the task with oomKilled and exit code 137', async () => {
  const { runner } = engine;
  await runner.addTask({ id: 'oom', image: 'busybox', ...behaviour({ durationMs: 30, oomKilled: true }) });
  const record = await runner.waitFor('oom');
  expect(record).toMatchObject({ state: 'deleted', outcome: 'failed' });
  expect(record.failure).toMatchObject({ oomKilled: true, exitCode: 137 });
  expect(record.failure?.message).toContain('OOMKilled');
  expectCleanAudit('oom');
});

test("the Job's own activeDeadlineSeconds times the task out with Kubernetes' DeadlineExceeded", async () => {
  const { runner, cluster } = engine;
  let deadlineCondition = false;
  const stop = cluster.onChange((change) => {
    if (change.resource !== 'jobs' || change.object.metadata.name !== 'job-deadline') return;
    const conditions = (change.object.status?.conditions ?? []) as { type: string; reason?: string }[];
    // FailureTarget is enough: the runner decides on it and may delete the Job before the
    // controller adds Failed (which waits for the pods to finish terminating).
    if (conditions.some((c) => (c.type === 'Failed' || c.type === 'FailureTarget') && c.reason === 'DeadlineExceeded'))
      deadlineCondition = true;
  });
  try {
    await runner.addTask({ id: 'job-deadline', image: 'busybox', timeout: 1, ...behaviour({ durationMs: -1 }) });
    await waitUntil(() => ourJobs(cluster).find((j) => j.metadata.name === 'job-deadline'), 'the Job to exist');
    expect(ourJobs(cluster).find((j) => j.metadata.name === 'job-deadline')?.spec.activeDeadlineSeconds).toBe(1);
    const record = await runner.waitFor('job-deadline');
    expect(record).toMatchObject({ state: 'deleted', outcome: 'timedOut', failure: { reason: 'DeadlineExceeded' } });
    expect(deadlineCondition).toBe(true);
  } finally {
    stop();
  }
  expectCleanAudit('job-deadline');
});

test("the runner's own timer times the task out when its Job carries no deadline", async () => {
  const { runner, cluster } = engine;
  const task = { id: 'client-deadline', image: 'busybox', timeout: 1, ...behaviour({ durationMs: -1 }) };
  // The Job a previous runner made without activeDeadlineSeconds: adopted, so only our timer can end it.
  const existing = await createPreexistingJob(cluster, task);
  expect(existing.spec?.activeDeadlineSeconds).toBeUndefined();
  await runner.addTask(task);
  const record = await runner.waitFor('client-deadline');
  expect(record).toMatchObject({
    state: 'deleted',
    outcome: 'timedOut',
    jobUid: existing.metadata?.uid,
    failure: { reason: 'Timeout' },
  });
  expect(record.failure?.message).toContain('timeout of 1 seconds');
  // The adopted Job was the only one, and the runner deleted it.
  expectCleanAudit('client-deadline');
});
