import { describe, expect, expectTypeOf, test } from 'vitest';
import { JobConflictError, KubernetesApiError } from '../../src/errors.js';
import {
  createRefusedReasons,
  jobConditionReasons,
  stuckPodReasons,
  taskFailureReasons,
  type TaskFailureReason,
} from '../../src/failure-reasons.js';
import { classify } from '../../src/machines/task/classify.js';
import type { PodView } from '../../src/machines/task/contract.js';
import type { TaskFailure, TaskSpec } from '../../src/types.js';
import {
  T0,
  condition,
  container,
  jobView,
  observation,
  freshObserved,
  podView,
  runningContext,
  runningPod,
  sec,
  taskInput,
  waiting,
} from './fixtures.js';
import { startTask, type StubBehaviour } from './harness.js';

/* Every member of `taskFailureReasons` is a failure the task machine can end with, and nothing else is. */

/** Long after every deadline a task can have: an observation then decides at once. */
const later = T0 + 24 * 3600_000;
const ours = (conditions: ReturnType<typeof condition>[] = []) =>
  jobView({ name: 'job-t1', uid: 'uid-t1', conditions });
const refused = (statusCode: number, reason: string | undefined, transient = false) =>
  new KubernetesApiError('create', 'jobs/job-t1', statusCode, reason, 'the API said no', transient);

/** How to make a task end with one reason: its spec, the effects' answers, what the cluster shows while it runs. */
interface Scenario {
  spec?: Partial<TaskSpec>;
  behaviour?: StubBehaviour;
  /** Sent once the task is `running`. */
  events?: Parameters<ReturnType<typeof startTask>['actor']['send']>[0][];
}

const failedWith = (reason: string | undefined): Scenario => ({
  events: [freshObserved(later, ours([condition('Failed', reason, 'the Job failed')]))],
});
const stuckAs = (pod: PodView): Scenario => ({ events: [freshObserved(later, ours(), [pod])] });
const refusedAs = (statusCode: number, reason: string): Scenario => ({
  behaviour: { create: () => Promise.reject(refused(statusCode, reason)) },
});

/** One way to each reason. The type makes it exhaustive: a new reason without a scenario does not compile. */
const scenarios: Record<TaskFailureReason, Scenario> = {
  BackoffLimitExceeded: failedWith('BackoffLimitExceeded'),
  DeadlineExceeded: failedWith('DeadlineExceeded'),
  PodFailurePolicy: failedWith('PodFailurePolicy'),
  MaxFailedIndexesExceeded: failedWith('MaxFailedIndexesExceeded'),
  FailedIndexes: failedWith('FailedIndexes'),
  Failed: failedWith(undefined),
  Unschedulable: stuckAs(
    podView({ unschedulable: { reason: 'Unschedulable', message: '0/1 nodes are available: 1 Insufficient cpu.' } }),
  ),
  // A pull error that may pass is retried with a new Job by default (`retry.imagePull`): none here.
  ErrImagePull: {
    ...stuckAs(waiting('ErrImagePull', 'failed to pull: 429 Too Many Requests')),
    spec: { retry: { imagePull: 0 } },
  },
  ImagePullBackOff: {
    ...stuckAs(waiting('ImagePullBackOff', 'Back-off pulling image "busybox"')),
    spec: { retry: { imagePull: 0 } },
  },
  InvalidImageName: stuckAs(waiting('InvalidImageName', 'couldn\'t parse image reference "Foo/Bar"')),
  ErrImageNeverPull: stuckAs(waiting('ErrImageNeverPull', 'image is not present with pull policy of Never')),
  CreateContainerConfigError: stuckAs(waiting('CreateContainerConfigError', 'secret "db" not found')),
  CrashLoopBackOff: stuckAs(
    podView({
      phase: 'Running',
      containers: [container({ restartCount: 3, waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s' } })],
    }),
  ),
  // Seconds after the Job's creation, far inside the pending budget: the refusal decides at once.
  PodSecurityViolation: {
    events: [
      freshObserved(
        T0 + sec(2),
        ours(),
        [],
        [
          'FailedCreate: Error creating: pods "job-t1-x2b4c" is forbidden: violates PodSecurity "baseline:latest": ' +
            'privileged (container "task" must not set securityContext.privileged=true)',
        ],
      ),
    ],
  },
  BadRequest: refusedAs(400, 'BadRequest'),
  Unauthorized: refusedAs(401, 'Unauthorized'),
  Forbidden: refusedAs(403, 'Forbidden'),
  NotFound: refusedAs(404, 'NotFound'),
  MethodNotAllowed: refusedAs(405, 'MethodNotAllowed'),
  NotAcceptable: refusedAs(406, 'NotAcceptable'),
  AlreadyExists: refusedAs(409, 'AlreadyExists'),
  Conflict: refusedAs(409, 'Conflict'),
  Gone: refusedAs(410, 'Gone'),
  Expired: refusedAs(410, 'Expired'),
  RequestEntityTooLarge: refusedAs(413, 'RequestEntityTooLarge'),
  UnsupportedMediaType: refusedAs(415, 'UnsupportedMediaType'),
  Invalid: refusedAs(422, 'Invalid'),
  Timeout: { spec: { timeout: 30 }, events: [freshObserved(later, ours(), [runningPod()])] },
  PendingTimeout: stuckAs(waiting('ContainerCreating')),
  Cancelled: { events: [{ type: 'CANCEL', at: T0 + sec(1) }] },
  JobConflict: {
    behaviour: { create: () => Promise.reject(new JobConflictError('default', 'job-t1', 't1', 'fp-t1', 'fp-other')) },
  },
  JobVanished: { events: [freshObserved(later, null)] },
  ApiError: { behaviour: { observeThrows: new Error('watch forbidden') } },
  // The task alone asks for more memory than the quota's hard limit: waiting would never help.
  QuotaExceeded: {
    behaviour: {
      create: () =>
        Promise.reject(
          new KubernetesApiError(
            'create',
            'jobs/job-t1',
            403,
            'Forbidden',
            'pods "job-t1-x" is forbidden: exceeded quota: compute, requested: requests.memory=2Gi, ' +
              'used: requests.memory=0, limited: requests.memory=1Gi',
            false,
          ),
        ),
    },
  },
  // No disruption may be replaced: the first one fails the task.
  DisruptionLimitExceeded: {
    spec: { retry: { disruptions: 0 } },
    events: [
      freshObserved(T0 + sec(5), ours(), [
        podView({
          phase: 'Failed',
          disruption: { reason: 'EvictionByEvictionAPI', message: 'Eviction API: evicting' },
        }),
      ]),
    ],
  },
};

/** Runs the task through the machine (stub effects) to `deleted`; its record's failure. */
async function failureOf({ spec, behaviour, events = [] }: Scenario): Promise<TaskFailure | undefined> {
  const t = startTask(taskInput('t1', spec), behaviour);
  t.actor.send({ type: 'START', at: T0 });
  if (events.length > 0) {
    await t.reach('running');
    for (const event of events) t.actor.send(event);
  }
  return (await t.reach('deleted')).output?.failure;
}

describe('TaskFailure.reason: taskFailureReasons', () => {
  test('lists each reason once, in its groups, and none of what the old docs promised but the code never produced', () => {
    expect(new Set(taskFailureReasons).size).toBe(taskFailureReasons.length);
    expect(Object.keys(scenarios).sort()).toEqual([...taskFailureReasons].sort());
    for (const never of ['OOMKilled', 'Error', 'Unknown']) expect(taskFailureReasons).not.toContain(never);
  });

  test.each(taskFailureReasons)('%s is reachable: a task ends with it', async (reason) => {
    expect((await failureOf(scenarios[reason]))?.reason).toBe(reason);
  });

  test('the classifier and the machine can only answer with a member (checked by the type)', () => {
    expectTypeOf(classify(runningContext(), observation(later, null)).verdict?.failure?.reason).toEqualTypeOf<
      TaskFailureReason | undefined
    >();
    expectTypeOf<TaskFailure['reason']>().toEqualTypeOf<TaskFailureReason>();
  });
});

describe('TaskFailure.reason: what Kubernetes passes through is kept to the list', () => {
  test('a Job condition reason not in the list is `Failed`, its own reason first in the message', async () => {
    expect(jobConditionReasons).not.toContain('SomethingNew');
    expect(await failureOf(failedWith('SomethingNew'))).toMatchObject({
      reason: 'Failed',
      message: 'SomethingNew: the Job failed',
    });
    expect(await failureOf(failedWith(undefined))).toMatchObject({ reason: 'Failed', message: 'the Job failed' });
  });

  test('a refused create without a known Status reason is `ApiError`, with the whole error as the message', async () => {
    for (const error of [refused(418, 'Teapot'), refused(403, undefined), refused(0, 'ENOTFOUND')]) {
      const failure = await failureOf({ behaviour: { create: () => Promise.reject(error) } });
      expect(failure).toMatchObject({ reason: 'ApiError', message: error.message });
    }
    expect(createRefusedReasons).not.toContain('ENOTFOUND');
  });

  test('a transient error past its retries is `ApiError` whatever its Status reason', async () => {
    const failure = await failureOf({
      behaviour: { create: () => Promise.reject(refused(503, 'ServiceUnavailable', true)) },
    });
    expect(failure).toMatchObject({ reason: 'ApiError' });
  });

  test('a waiting reason that is not a stuck one fails nothing by itself', () => {
    const pod = waiting('ContainerCreating');
    expect(stuckPodReasons).not.toContain('ContainerCreating');
    expect(classify(runningContext(), observation(T0 + sec(1), jobView(), [pod])).verdict).toBeUndefined();
  });
});
