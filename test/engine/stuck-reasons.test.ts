import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { TaskRecord } from '../../src/types.js';
import { behaviour, creationsByName, ourJobs, startEngine, testStuckPolicy, type Engine } from './harness.js';

/*
 * Pods Kubernetes never fails by itself: each stuck reason fails the task with its own reason,
 * either at once (nothing will change) or after its grace, measured from the pod's creation (the
 * pending budget from the Job's: a pod may never be created). "At once" is proven by a runner
 * whose graces and pending budget are ten minutes: a task that waited for any of them would not
 * finish within the test. "After the grace" is proven by the record: the task cannot finish
 * before the creationTimestamp plus the grace (every grace of the harness is over the
 * timestamp's one-second resolution, so failing at once would break it).
 */

const tenMinutes = 600_000;

/**
 * The creation time (epoch ms) of each Job and of its first pod, from the sim's change stream. The
 * two may fall in different seconds of the timestamps (the pod is made after the Job, later still
 * on a loaded machine).
 */
function trackCreations(engine: Engine): {
  jobCreatedAt(jobName: string): number;
  podCreatedAt(jobName: string): number;
  stop(): void;
} {
  const jobs = new Map<string, number>();
  const pods = new Map<string, number>();
  const stop = engine.cluster.onChange((change) => {
    if (change.type !== 'ADDED') return;
    const at = Date.parse(change.object.metadata.creationTimestamp ?? '');
    if (change.resource === 'jobs') jobs.set(change.object.metadata.name ?? '', at);
    if (change.resource !== 'pods') return;
    const job = change.object.metadata.labels?.['batch.kubernetes.io/job-name'];
    if (job && !pods.has(job)) pods.set(job, at);
  });
  const known = (created: Map<string, number>, jobName: string, what: string): number => {
    const at = created.get(jobName);
    if (at === undefined) throw new Error(`${what} was not created`);
    return at;
  };
  return {
    jobCreatedAt: (jobName) => known(jobs, jobName, `Job ${jobName}`),
    podCreatedAt: (jobName) => known(pods, jobName, `a pod of Job ${jobName}`),
    stop,
  };
}

function expectFailed(record: TaskRecord, reason: string): void {
  expect(record.state).toBe('deleted');
  expect(record.outcome).toBe('failed');
  expect(record.failure?.reason).toBe(reason);
}

function expectCleanAudit(engine: Engine, jobName: string): void {
  expect(creationsByName(engine.cluster).get(jobName)).toBe(1);
  expect(ourJobs(engine.cluster).map((j) => j.metadata.name)).not.toContain(jobName);
}

describe('reasons that fail at once', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await startEngine({
      runner: {
        maxConcurrentJobs: 10,
        stuck: {
          pendingBudgetMs: tenMinutes,
          imagePullGraceMs: tenMinutes,
          createContainerConfigGraceMs: tenMinutes,
          crashLoopBackOffGraceMs: tenMinutes,
        },
      },
    });
  });
  afterAll(async () => {
    await engine.close();
  });

  test("an image that does not exist fails the task at once with the registry's message", async () => {
    const { runner } = engine;
    await runner.addTask({ id: 'no-such-image', image: 'registry.example.com/does-not-exist:1.0' });
    const record = await runner.waitFor('no-such-image');
    expectFailed(record, record.failure?.reason === 'ImagePullBackOff' ? 'ImagePullBackOff' : 'ErrImagePull');
    // The registry's own answer, as containerd reports it.
    expect(record.failure?.message).toContain('code = NotFound');
    expect(record.failure?.message).toContain('registry.example.com/does-not-exist:1.0: not found');
    expectCleanAudit(engine, 'no-such-image');
  });

  test('an image reference the kubelet cannot parse fails the task at once with InvalidImageName', async () => {
    const { runner } = engine;
    // The task schema refuses bad references, so the bad one comes in through the pod template patch.
    await runner.addTask({
      id: 'invalid-image',
      image: 'busybox',
      podTemplate: { spec: { containers: [{ name: 'task', image: 'Busy_Box:Latest!' }] } },
    });
    const record = await runner.waitFor('invalid-image');
    expectFailed(record, 'InvalidImageName');
    expect(record.failure?.message).toContain('Busy_Box:Latest!');
    expectCleanAudit(engine, 'invalid-image');
  });
});

describe.concurrent('reasons that fail after their grace', () => {
  let engine: Engine;
  let created: ReturnType<typeof trackCreations>;
  beforeAll(async () => {
    engine = await startEngine({
      runner: { maxConcurrentJobs: 10 },
      cluster: { kubelet: { throttledImages: ['throttled-registry'] } },
    });
    created = trackCreations(engine);
  });
  afterAll(async () => {
    created.stop();
    await engine.close();
  });

  test('a throttled pull fails the task only after the image pull grace', async () => {
    const { runner } = engine;
    await runner.addTask({ id: 'throttled-pull', image: 'throttled-registry.example.com/app:1' });
    const record = await runner.waitFor('throttled-pull');
    expectFailed(record, record.failure?.reason === 'ImagePullBackOff' ? 'ImagePullBackOff' : 'ErrImagePull');
    expect(record.failure?.message).toContain('429 Too Many Requests');
    expect(Date.parse(record.finishedAt ?? '')).toBeGreaterThanOrEqual(
      created.podCreatedAt('throttled-pull') + testStuckPolicy.imagePullGraceMs,
    );
    expectCleanAudit(engine, 'throttled-pull');
  });

  test('env from a missing Secret fails the task with CreateContainerConfigError after its grace', async () => {
    const { runner } = engine;
    await runner.addTask({
      id: 'missing-secret',
      image: 'busybox',
      env: [{ name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'no-such-secret', key: 'token' } } }],
    });
    const record = await runner.waitFor('missing-secret');
    expectFailed(record, 'CreateContainerConfigError');
    expect(record.failure?.message).toContain('secret "no-such-secret" not found');
    expect(Date.parse(record.finishedAt ?? '')).toBeGreaterThanOrEqual(
      created.podCreatedAt('missing-secret') + testStuckPolicy.createContainerConfigGraceMs,
    );
    expectCleanAudit(engine, 'missing-secret');
  });

  test('requests beyond the node fail the task as Unschedulable at the pending budget', async () => {
    const { runner } = engine;
    await runner.addTask({ id: 'too-big', image: 'busybox', resources: { requests: { cpu: '100' } } });
    const record = await runner.waitFor('too-big');
    expectFailed(record, 'Unschedulable');
    expect(record.failure?.message).toContain('Insufficient cpu');
    // The pending budget runs from the Job's creationTimestamp (whole seconds), which may be a
    // second before its pod's.
    const job = engine.cluster.jobCreations().find((c) => c.name === record.jobName);
    const jobCreatedAt = Math.floor((job?.at ?? Number.NaN) / 1000) * 1000;
    expect(Date.parse(record.finishedAt ?? '')).toBeGreaterThanOrEqual(jobCreatedAt + testStuckPolicy.pendingBudgetMs);
    expectCleanAudit(engine, 'too-big');
  });

  test('a container that keeps crashing under restartPolicy OnFailure fails the task with CrashLoopBackOff after its grace', async () => {
    const { runner } = engine;
    // backoffLimit counts restarts under OnFailure: high enough that the Job itself does not fail first.
    await runner.addTask({
      id: 'crash-loop',
      image: 'busybox',
      backoffLimit: 1000,
      ...behaviour({ exitCode: 1, logs: ['crash'] }, { spec: { restartPolicy: 'OnFailure' } }),
    });
    const record = await runner.waitFor('crash-loop');
    expectFailed(record, 'CrashLoopBackOff');
    expect(record.failure).toMatchObject({ exitCode: 1 });
    expect(Date.parse(record.finishedAt ?? '')).toBeGreaterThanOrEqual(
      created.podCreatedAt('crash-loop') + testStuckPolicy.crashLoopBackOffGraceMs,
    );
    expectCleanAudit(engine, 'crash-loop');
  });

  test('a container that never starts fails the task with PendingTimeout at the pending budget', async () => {
    const { runner } = engine;
    await runner.addTask({ id: 'never-starts', image: 'busybox', ...behaviour({ neverStart: true }) });
    const record = await runner.waitFor('never-starts');
    expectFailed(record, 'PendingTimeout');
    expect(Date.parse(record.finishedAt ?? '')).toBeGreaterThanOrEqual(
      created.jobCreatedAt('never-starts') + testStuckPolicy.pendingBudgetMs,
    );
    expectCleanAudit(engine, 'never-starts');
  });
});
