import { BatchV1Api, CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import type { KubeObject } from '../../src/sim/types.js';
import {
  activePods,
  conditionTypes,
  FakeKubelet,
  jobManifest,
  jobNamed,
  jobWhen,
  jobWithCondition,
  podsOf,
  recordWatch,
  type RecordedEvent,
} from '../helpers/sim-jobs.js';
import { waitUntil } from '../helpers/wait.js';

// No kubelet: the tests play it through the API, so every pod transition is theirs to choose.
let cluster: SimulatedCluster;
let batch: BatchV1Api;
let core: CoreV1Api;
let kubelet: FakeKubelet;
beforeAll(async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { enabled: false } });
  batch = cluster.kubeConfig.makeApiClient(BatchV1Api);
  core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  kubelet = new FakeKubelet(cluster.kubeConfig);
});
afterAll(async () => cluster.close());

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

async function create(
  name: string,
  spec: Record<string, unknown> = {},
  podSpec: Record<string, unknown> = {},
): Promise<KubeObject> {
  const created = await batch.createNamespacedJob({ namespace: 'default', body: jobManifest(name, spec, podSpec) });
  return created as unknown as KubeObject;
}

async function watchJob(name: string): Promise<{ events: RecordedEvent[]; stop: () => void }> {
  return recordWatch(cluster.kubeConfig, '/apis/batch/v1/namespaces/default/jobs', {
    fieldSelector: `metadata.name=${name}`,
  });
}

function eventsOf(job: KubeObject): { reason: string; message: string; type: string }[] {
  return cluster
    .objects('events', 'default')
    .filter((e) => (e['involvedObject'] as { uid?: string }).uid === job.metadata.uid)
    .map((e) => ({ reason: String(e['reason']), message: String(e['message']), type: String(e['type']) }));
}

function conditionOf(job: KubeObject | undefined, type: string): Record<string, string> | undefined {
  return (job?.status?.conditions as Record<string, string>[] | undefined)?.find((c) => c['type'] === type);
}

/** Index of the first watch event whose Job carries a True condition of that type. */
function firstWith(events: RecordedEvent[], type: string): number {
  return events.findIndex((e) => conditionTypes(e.object).includes(type));
}

describe('pods', () => {
  test('a Job gets one pod <job>-xxxxx with the Job labels, a controller ownerReference and the tracking finalizer', async () => {
    const job = await create('pod-shape');
    const [pod] = await activePods(cluster, job, 1);
    const uid = job.metadata.uid;
    expect(pod?.metadata.name).toMatch(/^pod-shape-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    expect(pod?.metadata.generateName).toBe('pod-shape-');
    expect(pod?.metadata.labels).toEqual({
      'batch.kubernetes.io/controller-uid': uid,
      'batch.kubernetes.io/job-name': 'pod-shape',
      'controller-uid': uid,
      'job-name': 'pod-shape',
    });
    expect(pod?.metadata.ownerReferences).toEqual([
      { apiVersion: 'batch/v1', kind: 'Job', name: 'pod-shape', uid, controller: true, blockOwnerDeletion: true },
    ]);
    expect(pod?.metadata.finalizers).toEqual(['batch.kubernetes.io/job-tracking']);
    expect(pod?.spec).toMatchObject({
      restartPolicy: 'Never',
      dnsPolicy: 'ClusterFirst',
      terminationGracePeriodSeconds: 30,
      schedulerName: 'default-scheduler',
    });
    expect(pod?.spec.containers[0]).toMatchObject({
      name: 'main',
      image: 'busybox:1.36',
      imagePullPolicy: 'IfNotPresent',
      terminationMessagePath: '/dev/termination-log',
    });
    await waitUntil(() => eventsOf(job).some((e) => e.reason === 'SuccessfulCreate'), 'SuccessfulCreate');
    expect(eventsOf(job)).toContainEqual({
      type: 'Normal',
      reason: 'SuccessfulCreate',
      message: `Created pod: ${pod?.metadata.name}`,
    });
    const synced = await jobWhen(cluster, 'pod-shape', 'startTime', (j) => !!j.status?.startTime);
    expect(synced.status).toEqual({
      startTime: synced.status.startTime,
      active: 1,
      terminating: 0,
      uncountedTerminatedPods: {},
      ready: 0,
    });
  });

  test('a Job with parallelism 1 never has a second pod while one is active', async () => {
    const job = await create('one-at-a-time');
    const [pod] = await activePods(cluster, job, 1);
    // Every pod change makes the controller sync the Job again.
    await kubelet.run(pod as KubeObject);
    await waitUntil(() => jobNamed(cluster, 'one-at-a-time')?.status?.ready === 1, 'ready 1');
    await kubelet.run(pod as KubeObject, 0);
    await batch.patchNamespacedJob(
      { name: 'one-at-a-time', namespace: 'default', body: { metadata: { labels: { touched: 'yes' } } } },
      mergePatch,
    );
    await waitUntil(() => jobNamed(cluster, 'one-at-a-time')?.metadata.labels?.['touched'], 'label');
    expect(podsOf(cluster, job)).toHaveLength(1);
    expect(jobNamed(cluster, 'one-at-a-time')?.status).toMatchObject({ active: 1, ready: 1 });
  });

  test('parallelism caps the active pods and completions their total', async () => {
    const job = await create('three-by-two', { completions: 3, parallelism: 2 });
    const first = await activePods(cluster, job, 2);
    await kubelet.exit(first[0] as KubeObject, 0);
    const second = await activePods(cluster, job, 2);
    expect(podsOf(cluster, job)).toHaveLength(3);
    for (const pod of second) await kubelet.exit(pod, 0);
    const done = await jobWithCondition(cluster, 'three-by-two', 'Complete');
    expect(podsOf(cluster, job)).toHaveLength(3);
    expect(done.status).toMatchObject({ succeeded: 3, terminating: 0, ready: 0, uncountedTerminatedPods: {} });
    expect(done.status.active).toBeUndefined();
  });

  test('a work-queue Job (completions unset) completes once a pod succeeded and none is left running', async () => {
    const job = await create('work-queue', { parallelism: 2 });
    expect(job.spec.completions).toBeUndefined();
    const [a, b] = await activePods(cluster, job, 2);
    await kubelet.exit(a as KubeObject, 0);
    await waitUntil(() => jobNamed(cluster, 'work-queue')?.status?.succeeded === 1, 'one success counted');
    expect(podsOf(cluster, job)).toHaveLength(2);
    expect(conditionTypes(jobNamed(cluster, 'work-queue'))).toEqual([]);
    await kubelet.exit(b as KubeObject, 0);
    await waitUntil(() => conditionTypes(jobNamed(cluster, 'work-queue')).includes('Complete'), 'Complete');
    expect(jobNamed(cluster, 'work-queue')?.status.succeeded).toBe(2);
  });

  test('a pod deleted by a user counts as failed and is replaced at once', async () => {
    const job = await create('replaced', { backoffLimit: 3 });
    const [pod] = await activePods(cluster, job, 1);
    await core.deleteNamespacedPod({ name: pod?.metadata.name ?? '', namespace: 'default' });
    await waitUntil(() => jobNamed(cluster, 'replaced')?.status?.failed === 1, 'failed 1');
    // Counted, its finalizer removed: the unscheduled pod is gone, a new one stands in.
    const [next] = await waitUntil(() => {
      const pods = podsOf(cluster, job);
      return pods.length === 1 && pods[0]?.metadata.uid !== pod?.metadata.uid ? pods : undefined;
    }, 'a replacement pod');
    expect(next?.metadata.deletionTimestamp).toBeUndefined();
    expect(eventsOf(job).filter((e) => e.reason === 'SuccessfulCreate')).toHaveLength(2);
  });
});

describe('success', () => {
  test('SuccessCriteriaMet comes in an earlier MODIFIED than Complete, which carries completionTime', async () => {
    const watch = await watchJob('succeeds');
    const job = await create('succeeds');
    const [pod] = await activePods(cluster, job, 1);
    await kubelet.run(pod as KubeObject);
    await kubelet.exit(pod as KubeObject, 0);
    await waitUntil(() => firstWith(watch.events, 'Complete') >= 0, 'Complete on the watch');
    watch.stop();
    const interim = firstWith(watch.events, 'SuccessCriteriaMet');
    const complete = firstWith(watch.events, 'Complete');
    expect(interim).toBeGreaterThan(0);
    expect(interim).toBeLessThan(complete);
    // The interim status: the pod is finished but not yet counted.
    expect(watch.events[interim]?.object.status).toMatchObject({
      uncountedTerminatedPods: { succeeded: [pod?.metadata.uid] },
    });
    expect(watch.events[interim]?.object.status.succeeded).toBeUndefined();
    const final = watch.events[complete]?.object;
    const met = conditionOf(final, 'SuccessCriteriaMet');
    const completeCondition = conditionOf(final, 'Complete');
    expect(met).toMatchObject({
      status: 'True',
      reason: 'CompletionsReached',
      message: 'Reached expected number of succeeded pods',
    });
    expect(completeCondition).toMatchObject({
      status: 'True',
      reason: 'CompletionsReached',
      message: 'Reached expected number of succeeded pods',
    });
    expect(completeCondition?.['lastProbeTime']).toBeTruthy();
    expect(final?.status).toMatchObject({
      succeeded: 1,
      terminating: 0,
      ready: 0,
      uncountedTerminatedPods: {},
      completionTime: completeCondition?.['lastTransitionTime'],
    });
    // Counted: the tracking finalizer is gone, the pod (and its logs) stay.
    expect(podsOf(cluster, job)[0]?.metadata.finalizers).toBeUndefined();
    expect(eventsOf(job)).toContainEqual({ type: 'Normal', reason: 'Completed', message: 'Job completed' });
  });
});

describe('failure', () => {
  test('restartPolicy Never: a new pod per failure, then FailureTarget before Failed with BackoffLimitExceeded', async () => {
    const watch = await watchJob('gives-up');
    const job = await create('gives-up', { backoffLimit: 1 });
    const [first] = await activePods(cluster, job, 1);
    await kubelet.exit(first as KubeObject, 1);
    const [second] = await waitUntil(() => {
      const pods = podsOf(cluster, job).filter((p) => p.metadata.uid !== first?.metadata.uid);
      return pods.length === 1 ? pods : undefined;
    }, 'a replacement pod');
    expect(conditionTypes(jobNamed(cluster, 'gives-up'))).toEqual([]);
    await kubelet.exit(second as KubeObject, 1);
    await waitUntil(() => firstWith(watch.events, 'Failed') >= 0, 'Failed');
    watch.stop();
    expect(firstWith(watch.events, 'FailureTarget')).toBeLessThan(firstWith(watch.events, 'Failed'));
    const failed = watch.events[firstWith(watch.events, 'Failed')]?.object;
    for (const type of ['FailureTarget', 'Failed']) {
      expect(conditionOf(failed, type)).toMatchObject({
        status: 'True',
        reason: 'BackoffLimitExceeded',
        message: 'Job has reached the specified backoff limit',
      });
    }
    expect(failed?.status).toMatchObject({ failed: 2, terminating: 0, uncountedTerminatedPods: {} });
    expect(failed?.status.completionTime).toBeUndefined();
    // Failed pods are kept (their logs stay readable), without the tracking finalizer.
    expect(podsOf(cluster, job).map((p) => [p.status.phase, p.metadata.finalizers])).toEqual([
      ['Failed', undefined],
      ['Failed', undefined],
    ]);
    expect(eventsOf(job)).toContainEqual({
      type: 'Warning',
      reason: 'BackoffLimitExceeded',
      message: 'Job has reached the specified backoff limit',
    });
  });

  test('pod re-creation backs off 10 s, 20 s, 40 s (scaled) after consecutive failures', async () => {
    const job = await create('backs-off', { backoffLimit: 5 });
    const gaps: number[] = [];
    let [pod] = await activePods(cluster, job, 1);
    for (let failure = 1; failure <= 3; failure++) {
      const failedAt = Date.now();
      await kubelet.exit(pod as KubeObject, 1);
      const previous = pod?.metadata.uid;
      [pod] = await waitUntil(() => {
        const fresh = podsOf(cluster, job).filter((p) => p.metadata.uid !== previous && p.status.phase === 'Pending');
        return fresh.length === 1 ? fresh : undefined;
      }, `pod after failure ${failure}`);
      gaps.push(Date.now() - failedAt);
    }
    // Lower bounds only (a timer never fires early): 10 s·2^(n-1) at timeScale 0.01.
    expect(gaps[0]).toBeGreaterThanOrEqual(100);
    expect(gaps[1]).toBeGreaterThanOrEqual(200);
    expect(gaps[2]).toBeGreaterThanOrEqual(400);
  });

  test('restartPolicy OnFailure: container restarts count toward backoffLimit and the pod is deleted', async () => {
    const watch = await watchJob('restarts');
    const job = await create('restarts', { backoffLimit: 2 }, { restartPolicy: 'OnFailure' });
    const [pod] = await activePods(cluster, job, 1);
    await kubelet.run(pod as KubeObject, 1);
    await waitUntil(() => jobNamed(cluster, 'restarts')?.status?.ready === 1, 'synced after one restart');
    expect(conditionTypes(jobNamed(cluster, 'restarts'))).toEqual([]);
    await kubelet.run(pod as KubeObject, 2);
    await waitUntil(() => firstWith(watch.events, 'Failed') >= 0, 'Failed');
    watch.stop();
    expect(firstWith(watch.events, 'FailureTarget')).toBeLessThan(firstWith(watch.events, 'Failed'));
    expect(conditionOf(jobNamed(cluster, 'restarts'), 'Failed')).toMatchObject({ reason: 'BackoffLimitExceeded' });
    // The still-running pod was deleted (and, being unscheduled, is gone) and counted as failed.
    await waitUntil(() => podsOf(cluster, job).length === 0, 'pod deleted');
    expect(jobNamed(cluster, 'restarts')?.status).toMatchObject({ failed: 1, terminating: 0 });
    expect(eventsOf(job)).toContainEqual({
      type: 'Normal',
      reason: 'SuccessfulDelete',
      message: `Deleted pod: ${pod?.metadata.name}`,
    });
  });

  test('activeDeadlineSeconds: active pods deleted, DeadlineExceeded, and Failed never before terminating is 0', async () => {
    const watch = await watchJob('too-slow');
    // Long enough for the test to start the pod first on a busy machine (it is real time).
    const job = await create('too-slow', { activeDeadlineSeconds: 3 });
    const [pod] = await activePods(cluster, job, 1);
    await kubelet.run(pod as KubeObject);
    await waitUntil(() => firstWith(watch.events, 'Failed') >= 0, 'Failed', { timeoutMs: 10_000 });
    watch.stop();
    const target = firstWith(watch.events, 'FailureTarget');
    const failed = firstWith(watch.events, 'Failed');
    expect(target).toBeLessThan(failed);
    // While the killed pod was terminating the Job said so, and only then did it fail.
    expect(watch.events.slice(target, failed).some((e) => e.object.status.terminating === 1)).toBe(true);
    for (const e of watch.events.filter((e) => conditionTypes(e.object).includes('Failed')))
      expect(e.object.status.terminating).toBe(0);
    const final = watch.events[failed]?.object;
    expect(conditionOf(final, 'Failed')).toMatchObject({
      reason: 'DeadlineExceeded',
      message: 'Job was active longer than specified deadline',
    });
    expect(final?.status).toMatchObject({ failed: 1, terminating: 0, ready: 0, uncountedTerminatedPods: {} });
    expect(final?.status.active).toBeUndefined();
    // The deadline counts from startTime (real seconds, never scaled).
    expect(
      Date.parse(conditionOf(final, 'FailureTarget')?.['lastTransitionTime'] ?? '') -
        Date.parse(final?.status.startTime),
    ).toBeGreaterThanOrEqual(1000);
    expect(eventsOf(job)).toContainEqual({
      type: 'Warning',
      reason: 'DeadlineExceeded',
      message: 'Job was active longer than specified deadline',
    });
    expect(eventsOf(job)).toContainEqual({
      type: 'Normal',
      reason: 'SuccessfulDelete',
      message: `Deleted pod: ${pod?.metadata.name}`,
    });
  });
});

describe('podFailurePolicy', () => {
  test("a FailJob rule fails the Job at the first matching exit code, with Kubernetes' message", async () => {
    const watch = await watchJob('fail-fast');
    const job = await create('fail-fast', {
      backoffLimit: 6,
      podFailurePolicy: {
        rules: [{ action: 'FailJob', onExitCodes: { containerName: 'main', operator: 'In', values: [42] } }],
      },
    });
    const [pod] = await activePods(cluster, job, 1);
    await kubelet.exit(pod as KubeObject, 42);
    await waitUntil(() => firstWith(watch.events, 'Failed') >= 0, 'Failed');
    watch.stop();
    expect(firstWith(watch.events, 'FailureTarget')).toBeLessThan(firstWith(watch.events, 'Failed'));
    const message = `Container main for pod default/${pod?.metadata.name} failed with exit code 42 matching FailJob rule at index 0`;
    expect(conditionOf(jobNamed(cluster, 'fail-fast'), 'Failed')).toMatchObject({
      reason: 'PodFailurePolicy',
      message,
    });
    expect(jobNamed(cluster, 'fail-fast')?.status.failed).toBe(1);
    expect(podsOf(cluster, job)).toHaveLength(1);
  });

  test('an Ignore rule keeps a failure out of backoffLimit; the pod is replaced', async () => {
    const job = await create('ignores', {
      backoffLimit: 0,
      podFailurePolicy: { rules: [{ action: 'Ignore', onExitCodes: { operator: 'In', values: [3] } }] },
    });
    const [pod] = await activePods(cluster, job, 1);
    await kubelet.exit(pod as KubeObject, 3);
    const [next] = await waitUntil(() => {
      const fresh = podsOf(cluster, job).filter((p) => p.status.phase === 'Pending');
      return fresh.length === 1 ? fresh : undefined;
    }, 'a replacement pod');
    await waitUntil(
      () => !podsOf(cluster, job).find((p) => p.metadata.uid === pod?.metadata.uid)?.metadata.finalizers,
      'ignored pod released',
    );
    expect(conditionTypes(jobNamed(cluster, 'ignores'))).toEqual([]);
    expect(jobNamed(cluster, 'ignores')?.status.failed).toBeUndefined();
    // Any other exit code still counts, and with backoffLimit 0 fails the Job.
    await kubelet.exit(next as KubeObject, 1);
    const failed = await jobWithCondition(cluster, 'ignores', 'Failed');
    expect(conditionOf(failed, 'Failed')).toMatchObject({ reason: 'BackoffLimitExceeded' });
    expect(failed.status.failed).toBe(1);
  });
});

describe('suspend', () => {
  test('a Job created suspended has no pods and no startTime until resumed, which starts the clock', async () => {
    const job = await create('later', { suspend: true });
    const suspended = await jobWithCondition(cluster, 'later', 'Suspended');
    expect(conditionOf(suspended, 'Suspended')).toMatchObject({
      status: 'True',
      reason: 'JobSuspended',
      message: 'Job suspended',
    });
    expect(suspended.status.startTime).toBeUndefined();
    expect(podsOf(cluster, job)).toHaveLength(0);
    expect(eventsOf(job)).toContainEqual({ type: 'Normal', reason: 'Suspended', message: 'Job suspended' });
    await batch.patchNamespacedJob(
      { name: 'later', namespace: 'default', body: { spec: { suspend: false } } },
      mergePatch,
    );
    await activePods(cluster, job, 1);
    const resumed = await jobWhen(
      cluster,
      'later',
      'resumed',
      (j) => conditionOf(j, 'Suspended')?.['status'] === 'False',
    );
    expect(conditionOf(resumed, 'Suspended')).toMatchObject({
      status: 'False',
      reason: 'JobResumed',
      message: 'Job resumed',
    });
    expect(resumed.status.startTime).toBeTruthy();
    expect(eventsOf(job)).toContainEqual({ type: 'Normal', reason: 'Resumed', message: 'Job resumed' });
  });

  test('suspending a running Job deletes its pods without counting them as failures', async () => {
    const job = await create('paused');
    const [pod] = await activePods(cluster, job, 1);
    await kubelet.run(pod as KubeObject);
    await batch.patchNamespacedJob(
      { name: 'paused', namespace: 'default', body: { spec: { suspend: true } } },
      mergePatch,
    );
    await waitUntil(() => podsOf(cluster, job).length === 0, 'pods deleted');
    const suspended = await jobWithCondition(cluster, 'paused', 'Suspended');
    expect(suspended.status.failed).toBeUndefined();
    expect(suspended.status.active).toBeUndefined();
  });
});

describe('Indexed', () => {
  test('pods carry their completion index; completedIndexes and Complete follow the indexes', async () => {
    const job = await create('indexed', { completions: 3, parallelism: 3, completionMode: 'Indexed' });
    const pods = await activePods(cluster, job, 3);
    const byIndex = new Map(pods.map((p) => [p.metadata.annotations?.['batch.kubernetes.io/job-completion-index'], p]));
    expect([...byIndex.keys()].sort()).toEqual(['0', '1', '2']);
    const one = byIndex.get('1') as KubeObject;
    expect(one.metadata.name).toMatch(/^indexed-1-[a-z0-9]{5}$/);
    expect(one.metadata.labels?.['batch.kubernetes.io/job-completion-index']).toBe('1');
    expect(one.spec.hostname).toBe('indexed-1');
    expect(one.spec.containers[0].env).toContainEqual({
      name: 'JOB_COMPLETION_INDEX',
      valueFrom: {
        fieldRef: { apiVersion: 'v1', fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" },
      },
    });
    await kubelet.exit(one, 0);
    await waitUntil(() => jobNamed(cluster, 'indexed')?.status?.completedIndexes === '1', 'completedIndexes 1');
    // A failed index is retried by a new pod with the same index.
    await kubelet.exit(byIndex.get('0') as KubeObject, 1);
    const retry = await waitUntil(
      () =>
        podsOf(cluster, job).find(
          (p) =>
            p.metadata.annotations?.['batch.kubernetes.io/job-completion-index'] === '0' &&
            p.status.phase === 'Pending',
        ),
      'index 0 again',
    );
    await kubelet.exit(retry, 0);
    await kubelet.exit(byIndex.get('2') as KubeObject, 0);
    const done = await jobWithCondition(cluster, 'indexed', 'Complete');
    expect(done.status).toMatchObject({ completedIndexes: '0-2', succeeded: 3, failed: 1 });
  });
});
