import { describe, expect, test } from 'vitest';
import { classify } from '../../src/machines/task/classify.js';
import {
  T0,
  condition,
  container,
  jobView,
  observation,
  podView,
  runningContext,
  runningPod,
  sec,
  waiting,
} from './fixtures.js';

const min = (m: number): number => m * 60_000;

describe('classify(): Job conditions decide the outcome', () => {
  test('Complete → succeeded, Job finished', () => {
    expect(
      classify(runningContext(), observation(T0, jobView({ conditions: [condition('Complete')] }))).verdict,
    ).toEqual({ outcome: 'succeeded', jobFinished: true });
  });

  test('SuccessCriteriaMet (interim) → succeeded early, Job not finished yet', () => {
    expect(
      classify(runningContext(), observation(T0, jobView({ conditions: [condition('SuccessCriteriaMet')] }))).verdict,
    ).toEqual({ outcome: 'succeeded', jobFinished: false });
  });

  test('a condition that is not True decides nothing', () => {
    const job = jobView({
      conditions: [
        { type: 'Complete', status: 'False' },
        { type: 'Failed', status: 'Unknown' },
      ],
    });
    expect(classify(runningContext(), observation(T0, job)).verdict).toBeUndefined();
  });

  test('Failed → failed with Kubernetes reason, exit code, container reason and events', () => {
    const pod = podView({ phase: 'Failed', containers: [container({ terminated: { exitCode: 3, reason: 'Error' } })] });
    const job = jobView({
      conditions: [condition('Failed', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit')],
    });
    const { verdict } = classify(
      runningContext(),
      observation(T0, job, [pod], ['BackoffLimitExceeded: Job has reached the specified backoff limit']),
    );
    expect(verdict).toEqual({
      outcome: 'failed',
      jobFinished: true,
      failure: {
        reason: 'BackoffLimitExceeded',
        message: 'Job has reached the specified backoff limit: container "task" exited with code 3 (Error)',
        exitCode: 3,
        oomKilled: false,
        podName: 'job-t1-abcde',
        container: 'task',
        terminationReason: 'Error',
        events: ['BackoffLimitExceeded: Job has reached the specified backoff limit'],
      },
    });
  });

  test('OOMKilled goes into the failure as oomKilled with exit code 137', () => {
    const pod = podView({
      phase: 'Failed',
      containers: [container({ terminated: { exitCode: 137, reason: 'OOMKilled' } })],
    });
    const job = jobView({
      conditions: [condition('Failed', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit')],
    });
    expect(classify(runningContext(), observation(T0, job, [pod])).verdict?.failure).toMatchObject({
      reason: 'BackoffLimitExceeded',
      exitCode: 137,
      oomKilled: true,
      message: expect.stringContaining('OOMKilled'),
    });
  });

  test('the newest pod and a non-zero exit are the ones reported', () => {
    const old = podView({
      name: 'p-old',
      createdAt: new Date(T0).toISOString(),
      phase: 'Failed',
      containers: [container({ terminated: { exitCode: 1, reason: 'Error' } })],
    });
    const newer = podView({
      name: 'p-new',
      createdAt: new Date(T0 + sec(30)).toISOString(),
      phase: 'Failed',
      containers: [container({ terminated: { exitCode: 2, reason: 'Error', message: 'disk full' } })],
    });
    const job = jobView({ conditions: [condition('Failed', 'BackoffLimitExceeded', 'limit')] });
    expect(classify(runningContext(), observation(T0, job, [old, newer])).verdict?.failure).toMatchObject({
      exitCode: 2,
      message: 'limit: container "task" exited with code 2 (Error: disk full)',
    });
  });

  test('FailureTarget (interim) → failed early, Job not finished yet', () => {
    const job = jobView({
      conditions: [condition('FailureTarget', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit')],
    });
    expect(classify(runningContext(), observation(T0, job)).verdict).toMatchObject({
      outcome: 'failed',
      jobFinished: false,
      failure: { reason: 'BackoffLimitExceeded' },
    });
  });

  test('terminal conditions win over interim ones', () => {
    const job = jobView({
      conditions: [condition('FailureTarget', 'BackoffLimitExceeded'), condition('Failed', 'BackoffLimitExceeded')],
    });
    expect(classify(runningContext(), observation(T0, job)).verdict?.jobFinished).toBe(true);
  });

  test('DeadlineExceeded → timedOut with Kubernetes reason (Failed and FailureTarget alike)', () => {
    const failed = jobView({
      conditions: [condition('Failed', 'DeadlineExceeded', 'Job was active longer than specified deadline')],
    });
    expect(classify(runningContext(), observation(T0, failed)).verdict).toEqual({
      outcome: 'timedOut',
      jobFinished: true,
      failure: { reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline', events: [] },
    });
    const target = jobView({
      conditions: [condition('FailureTarget', 'DeadlineExceeded', 'Job was active longer than specified deadline')],
    });
    expect(classify(runningContext(), observation(T0, target)).verdict).toMatchObject({
      outcome: 'timedOut',
      jobFinished: false,
    });
  });

  test('job: null → failed JobVanished (the watch ending is never success)', () => {
    expect(classify(runningContext(), observation(T0, null)).verdict).toMatchObject({
      outcome: 'failed',
      jobFinished: false,
      failure: { reason: 'JobVanished' },
    });
    expect(classify(runningContext(), observation(T0, null)).verdict?.jobMayExist).toBeUndefined();
  });

  test('a Job under our name with another uid → JobVanished, and it is not ours to delete', () => {
    expect(
      classify(runningContext({ jobUid: 'uid-1' }), observation(T0, jobView({ uid: 'uid-2' }))).verdict,
    ).toMatchObject({ outcome: 'failed', jobMayExist: false, failure: { reason: 'JobVanished' } });
  });
});

describe('classify(): timeout and pending budget', () => {
  test('startTime sets startedAt and timeoutAt = startTime + timeout + client grace', () => {
    const c = classify(
      runningContext({}, { timeout: 30 }),
      observation(T0 + sec(1), jobView({ startTime: new Date(T0 + sec(1)).toISOString() }), [runningPod()]),
    );
    expect(c.startedAt).toBe(new Date(T0 + sec(1)).toISOString());
    expect(c.timeoutAt).toBe(T0 + sec(1) + sec(30) + 2000);
    expect(c.verdict).toBeUndefined();
  });

  test('no timeout in the spec → no client deadline', () => {
    expect(classify(runningContext(), observation(T0, jobView(), [runningPod()])).timeoutAt).toBeUndefined();
  });

  test('a timeout already past at observation time → timedOut at once', () => {
    const c = classify(runningContext({}, { timeout: 30 }), observation(T0 + sec(33), jobView(), [runningPod()]));
    expect(c.verdict).toMatchObject({
      outcome: 'timedOut',
      jobFinished: false,
      failure: { reason: 'Timeout', message: expect.stringContaining('30 seconds') },
    });
  });

  test('pending budget runs from the Job creation while no container has started', () => {
    const c = classify(runningContext(), observation(T0 + sec(5), jobView(), [waiting('ContainerCreating')]));
    expect(c.pendingUntil).toBe(T0 + min(10));
    expect(c.stuckAt).toBeUndefined();
    expect(classify(runningContext(), observation(T0, jobView(), [])).pendingUntil).toBe(T0 + min(10));
  });

  test('pending budget falls back to startTime when the Job has no creation time', () => {
    expect(
      classify(
        runningContext(),
        observation(T0, jobView({ createdAt: undefined, startTime: new Date(T0 + sec(2)).toISOString() }), []),
      ).pendingUntil,
    ).toBe(T0 + sec(2) + min(10));
  });

  test('a running or terminated container, or the Job counters, end the pending budget', () => {
    expect(classify(runningContext(), observation(T0, jobView(), [runningPod()])).pendingUntil).toBeUndefined();
    const done = podView({ phase: 'Failed', containers: [container({ terminated: { exitCode: 1 } })] });
    expect(classify(runningContext(), observation(T0, jobView(), [done])).pendingUntil).toBeUndefined();
    // The pod that ran is gone, the Job still counts it: no new pending budget from the Job's creation.
    expect(
      classify(runningContext(), observation(T0 + min(20), jobView({ failed: 1 }), [waiting('ContainerCreating')]))
        .verdict,
    ).toBeUndefined();
  });

  test('pending budget passed → failed PendingTimeout', () => {
    const c = classify(runningContext(), observation(T0 + min(10), jobView(), [waiting('ContainerCreating')]));
    expect(c.verdict).toMatchObject({
      outcome: 'failed',
      failure: { reason: 'PendingTimeout', message: expect.stringContaining('600 seconds') },
    });
  });
});

describe('classify(): stuck pods', () => {
  const at = T0 + sec(5);

  test.each([
    [
      'ErrImagePull',
      'rpc error: code = NotFound desc = failed to pull and unpack image "docker.io/library/nope:1": not found',
    ],
    ['ErrImagePull', 'failed to resolve reference "r.io/x:1": manifest unknown'],
    ['ErrImagePull', "pull access denied for nope, repository does not exist or may require 'docker login'"],
    ['ErrImagePull', 'failed to authorize: 401 Unauthorized'],
    ['ImagePullBackOff', 'Back-off pulling image "nope:1": ErrImagePull: rpc error: code = NotFound desc = not found'],
  ])('%s saying the image does not exist or access is denied fails at once (%s)', (reason, message) => {
    expect(classify(runningContext(), observation(at, jobView(), [waiting(reason, message)])).verdict).toMatchObject({
      outcome: 'failed',
      jobFinished: false,
      failure: { reason, message },
    });
  });

  test('ImagePullBackOff without the cause in its message is permanent when the kubelet events say so', () => {
    const events = [
      'Failed: Failed to pull image "nope:1": rpc error: code = NotFound desc = failed to pull and unpack image: not found',
    ];
    expect(
      classify(
        runningContext(),
        observation(at, jobView(), [waiting('ImagePullBackOff', 'Back-off pulling image "nope:1"')], events),
      ).verdict,
    ).toMatchObject({ failure: { reason: 'ImagePullBackOff', events } });
  });

  test('other pull errors (throttling) wait imagePullGraceMs from the pod creation', () => {
    const pod = waiting('ErrImagePull', 'failed to pull: 429 Too Many Requests');
    const c = classify(runningContext(), observation(at, jobView(), [pod]));
    expect(c.verdict).toBeUndefined();
    expect(c.stuckAt).toEqual({
      at: T0 + min(5),
      failure: { reason: 'ErrImagePull', message: 'failed to pull: 429 Too Many Requests', events: [] },
    });
    expect(classify(runningContext(), observation(T0 + min(5) - 1, jobView(), [pod])).verdict).toBeUndefined();
    expect(classify(runningContext(), observation(T0 + min(5), jobView(), [pod])).verdict?.failure?.reason).toBe(
      'ErrImagePull',
    );
  });

  test('InvalidImageName (and ErrImageNeverPull) fail at once', () => {
    expect(
      classify(
        runningContext(),
        observation(at, jobView(), [waiting('InvalidImageName', 'couldn\'t parse image reference "Foo/Bar"')]),
      ).verdict,
    ).toMatchObject({ failure: { reason: 'InvalidImageName' } });
    expect(
      classify(
        runningContext(),
        observation(at, jobView(), [waiting('ErrImageNeverPull', 'image is not present with pull policy of Never')]),
      ).verdict,
    ).toMatchObject({ failure: { reason: 'ErrImageNeverPull' } });
  });

  test('CreateContainerConfigError waits its grace', () => {
    const pod = waiting('CreateContainerConfigError', 'secret "db" not found');
    const c = classify(runningContext(), observation(at, jobView(), [pod]));
    expect(c.verdict).toBeUndefined();
    expect(c.stuckAt?.at).toBe(T0 + min(2));
    expect(classify(runningContext(), observation(T0 + min(2), jobView(), [pod])).verdict).toMatchObject({
      failure: { reason: 'CreateContainerConfigError', message: 'secret "db" not found' },
    });
  });

  test('CrashLoopBackOff waits its grace and keeps the last exit code and OOM flag', () => {
    const pod = podView({
      phase: 'Running',
      containers: [
        container({
          restartCount: 3,
          waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container' },
          lastTerminated: { exitCode: 137, reason: 'OOMKilled' },
        }),
      ],
    });
    const c = classify(runningContext(), observation(at, jobView(), [pod]));
    expect(c.stuckAt?.at).toBe(T0 + min(5));
    expect(classify(runningContext(), observation(T0 + min(5), jobView(), [pod])).verdict?.failure).toMatchObject({
      reason: 'CrashLoopBackOff',
      exitCode: 137,
      oomKilled: true,
      message: expect.stringContaining('exited with code 137'),
    });
  });

  test('Unschedulable fails at the pending budget with its own reason', () => {
    const pod = podView({
      createdAt: new Date(T0 + 50).toISOString(),
      unschedulable: { reason: 'Unschedulable', message: '0/3 nodes are available: 3 Insufficient cpu.' },
    });
    const c = classify(runningContext(), observation(at, jobView(), [pod]));
    expect(c.stuckAt?.at).toBe(T0 + min(10));
    expect(classify(runningContext(), observation(T0 + min(10), jobView(), [pod])).verdict?.failure).toMatchObject({
      reason: 'Unschedulable',
      message: '0/3 nodes are available: 3 Insufficient cpu.',
    });
  });

  test('Unschedulable with its own grace fails then, measured from the pod creation', () => {
    const ctx = runningContext({
      config: {
        ...runningContext().config,
        stuck: { ...runningContext().config.stuck, unschedulableGraceMs: sec(30) },
      },
    });
    const pod = podView({ unschedulable: { reason: 'Unschedulable', message: 'no nodes available to schedule pods' } });
    expect(classify(ctx, observation(at, jobView(), [pod])).stuckAt?.at).toBe(T0 + sec(30));
    expect(classify(ctx, observation(T0 + sec(30), jobView(), [pod])).verdict?.failure?.reason).toBe('Unschedulable');
  });

  test('waiting reasons that are progress (ContainerCreating, PodInitializing) are not stuck', () => {
    expect(
      classify(runningContext(), observation(at, jobView(), [waiting('ContainerCreating'), waiting('PodInitializing')]))
        .stuckAt,
    ).toBeUndefined();
  });

  test('terminating or finished pods are not stuck', () => {
    const terminating = { ...waiting('InvalidImageName', 'bad'), deletionTimestamp: new Date(T0).toISOString() };
    const failed = { ...waiting('InvalidImageName', 'bad'), phase: 'Failed' };
    expect(classify(runningContext(), observation(at, jobView(), [terminating, failed])).verdict).toBeUndefined();
  });

  test('a pod that recovers clears its stuck deadline', () => {
    const ctx = runningContext({
      stuckAt: { at: T0 + min(2), failure: { reason: 'CreateContainerConfigError', message: 'x' } },
    });
    expect(classify(ctx, observation(at, jobView(), [runningPod()])).stuckAt).toBeUndefined();
  });

  test('the earliest stuck deadline among pods wins', () => {
    const c = classify(
      runningContext(),
      observation(at, jobView(), [
        waiting('ErrImagePull', 'timeout'),
        waiting('CreateContainerConfigError', 'secret "x" not found'),
      ]),
    );
    expect(c.stuckAt?.failure.reason).toBe('CreateContainerConfigError');
  });

  test('conditions decide before stuck pods', () => {
    const job = jobView({ conditions: [condition('Failed', 'DeadlineExceeded', 'deadline')] });
    expect(
      classify(runningContext(), observation(at, job, [waiting('InvalidImageName', 'bad')])).verdict?.outcome,
    ).toBe('timedOut');
  });
});
