import { afterEach, expect, onTestFinished, test } from 'vitest';
import { fingerprintSpec } from '../../src/jobs/fingerprint.js';
import { fingerprintAnnotation } from '../../src/jobs/labels.js';
import type { RunnerOptions } from '../../src/runner/options.js';
import type { KubeObject } from '../../src/sim/index.js';
import { parseTaskSpec } from '../../src/validation/parse.js';
import type { TaskInput } from '../../src/validation/task-spec.js';
import { waitUntil } from '../helpers/wait.js';
import { behaviour, creationsByName, ourJobs, startEngine, type Engine } from './harness.js';
import { createPreexistingJob } from './preexisting-job.js';

/*
 * The cluster-side backstop: the runner puts `ttlSecondsAfterFinished` on the Jobs it creates
 * (default 3600 s, `null` = none, a task's own value wins, off with keepJobs unless set), outside
 * the task's fingerprint; so a Job left behind by a runner that never comes back is removed by the
 * sim's TTL-after-finished controller, and a Job made without it by an older runner is adopted.
 */

const engines: Engine[] = [];
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.close()));
});

async function engine(runner: RunnerOptions = {}): Promise<Engine> {
  const e = await startEngine({ runner });
  engines.push(e);
  return e;
}

const longTask = (id: string, extra: Partial<TaskInput> = {}): TaskInput => ({
  id,
  image: 'busybox',
  ...extra,
  ...behaviour({ durationMs: -1 }),
});

/** The `ttlSecondsAfterFinished` of the task's Job in the sim once created (null: none). */
async function jobTtl(e: Engine, id: string): Promise<number | null> {
  const job = await waitUntil(() => ourJobs(e.cluster).find((j) => j.metadata.name === id), `the Job of ${id}`);
  const ttl = job.spec?.ttlSecondsAfterFinished;
  return typeof ttl === 'number' ? ttl : null;
}

test('Jobs carry ttlSecondsAfterFinished 3600 by default; a task’s own value wins; the fingerprint is the spec’s', async () => {
  const e = await engine({ maxConcurrentJobs: 2 });
  const plain = longTask('ttl-default');
  await e.runner.addTask(plain);
  await e.runner.addTask(longTask('ttl-own', { ttlSecondsAfterFinished: 5 }));
  expect(await jobTtl(e, 'ttl-default')).toBe(3600);
  expect(await jobTtl(e, 'ttl-own')).toBe(5);
  const job = ourJobs(e.cluster).find((j) => j.metadata.name === 'ttl-default');
  expect(job?.metadata.annotations?.[fingerprintAnnotation]).toBe(fingerprintSpec(parseTaskSpec(plain)));
});

test('cleanup.ttlSecondsAfterFinished: a value of its own; null leaves it off; keepJobs turns the default off', async () => {
  const custom = await engine({ cleanup: { ttlSecondsAfterFinished: 120 } });
  await custom.runner.addTask(longTask('ttl-custom'));
  expect(await jobTtl(custom, 'ttl-custom')).toBe(120);
  const off = await engine({ cleanup: { ttlSecondsAfterFinished: null } });
  await off.runner.addTask(longTask('ttl-off'));
  expect(await jobTtl(off, 'ttl-off')).toBeNull();
  const kept = await engine({ cleanup: { keepJobs: true } });
  await kept.runner.addTask(longTask('ttl-kept'));
  expect(await jobTtl(kept, 'ttl-kept')).toBeNull();
  const keptWithTtl = await engine({ cleanup: { keepJobs: true, ttlSecondsAfterFinished: 60 } });
  await keptWithTtl.runner.addTask(longTask('ttl-kept-explicit'));
  expect(await jobTtl(keptWithTtl, 'ttl-kept-explicit')).toBe(60);
});

test('a Job made without the TTL by an older runner is still adopted on 409 (same fingerprint)', async () => {
  const e = await engine();
  const task = { id: 'older-runner', image: 'busybox', ...behaviour({ durationMs: 30, logs: ['adopted'] }) };
  const existing = await createPreexistingJob(e.cluster, task);
  expect(existing.spec?.ttlSecondsAfterFinished).toBeUndefined();
  await e.runner.addTask(task);
  const record = await e.runner.waitFor('older-runner');
  expect(record).toMatchObject({ state: 'deleted', outcome: 'succeeded', jobUid: existing.metadata?.uid });
  expect(record.failure).toBeUndefined();
  expect(creationsByName(e.cluster).get('older-runner')).toBe(1);
});

test('a finished Job whose runner detached for good is removed by the cluster’s TTL controller', async () => {
  const e = await engine({ cleanup: { ttlSecondsAfterFinished: 1 } });
  // Long enough to detach while it runs; it then finishes with no runner left to clean up.
  const task = { id: 'left-behind', image: 'busybox', ...behaviour({ durationMs: 300 }) };
  await e.runner.addTask(task);
  await waitUntil(async () => (await e.runner.getTask('left-behind')).state === 'running', 'the task to run');
  // Seen from the sim's change stream, not by polling: a TTL of 1 s is 10 ms at the harness's time
  // scale, and a poll on a loaded machine (CI on Node 24) missed the finished Job before it went.
  let finished: KubeObject | undefined;
  const stop = e.cluster.onChange(({ resource, object }) => {
    const conditions = (object.status?.conditions ?? []) as { type: string; status: string }[];
    if (resource === 'jobs' && conditions.some((c) => c.type === 'Complete' && c.status === 'True'))
      finished ??= object;
  });
  onTestFinished(stop);
  await e.runner.shutdown({ mode: 'detach' });
  await waitUntil(() => finished, 'the Job to finish with no runner');
  expect(finished?.spec?.ttlSecondsAfterFinished).toBe(1);
  await waitUntil(() => ourJobs(e.cluster).length === 0, 'the TTL controller to remove the Job');
  // Nobody but the TTL controller deleted it: the runner was gone.
  expect(e.cluster.requests().filter((r) => r.verb === 'delete' && r.resource === 'jobs')).toEqual([]);
});
