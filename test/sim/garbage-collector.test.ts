import { ApiException, BatchV1Api, CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import type { KubeObject } from '../../src/sim/types.js';
import {
  activePods,
  FakeKubelet,
  jobManifest,
  jobNamed,
  jobWithCondition,
  podsOf,
  recordWatch,
} from '../helpers/sim-jobs.js';
import { waitUntil } from '../helpers/wait.js';

let cluster: SimulatedCluster;
let batch: BatchV1Api;
let core: CoreV1Api;
beforeAll(async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { enabled: false } });
  batch = cluster.kubeConfig.makeApiClient(BatchV1Api);
  core = cluster.kubeConfig.makeApiClient(CoreV1Api);
});
afterAll(async () => cluster.close());

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const hold = 'example.com/hold';

async function jobWithPods(
  name: string,
  pods: number,
  namespace = 'default',
): Promise<{ job: KubeObject; pods: KubeObject[] }> {
  const job = (await batch.createNamespacedJob({
    namespace,
    body: jobManifest(name, { parallelism: pods, completions: pods }),
  })) as unknown as KubeObject;
  return { job, pods: await activePods(cluster, job, pods, namespace) };
}

/** A finalizer of our own keeps a pod around (deleting but present) until we let go. */
async function holdPod(pod: KubeObject, namespace = 'default'): Promise<void> {
  await core.patchNamespacedPod(
    {
      name: pod.metadata.name,
      namespace,
      body: { metadata: { finalizers: ['batch.kubernetes.io/job-tracking', hold] } },
    },
    mergePatch,
  );
}

async function releasePod(pod: KubeObject, namespace = 'default'): Promise<void> {
  const current = cluster.objects('pods', namespace).find((p) => p.metadata.uid === pod.metadata.uid);
  const finalizers = (current?.metadata.finalizers ?? []).filter((f) => f !== hold);
  await core.patchNamespacedPod(
    {
      name: pod.metadata.name,
      namespace,
      body: { metadata: { finalizers: finalizers.length > 0 ? finalizers : null } },
    },
    mergePatch,
  );
}

function gone(namespace: string, uid: string): boolean {
  return !cluster.objects('pods', namespace).some((p) => p.metadata.uid === uid);
}

/** DELETE over plain HTTP: client-node reads every delete answer as a V1Status and drops the object's fields. */
async function rawDelete(
  path: string,
  propagationPolicy?: string,
): Promise<{ body: KubeObject; warning: string | null }> {
  const query = propagationPolicy ? `?propagationPolicy=${propagationPolicy}` : '';
  const response = await fetch(`${cluster.url}${path}${query}`, {
    method: 'DELETE',
    headers: { Authorization: 'Bearer x' },
  });
  return { body: (await response.json()) as KubeObject, warning: response.headers.get('warning') };
}

async function status(send: () => Promise<unknown>): Promise<{ code: number; reason: string; message: string }> {
  try {
    await send();
  } catch (err) {
    if (err instanceof ApiException)
      return JSON.parse(err.body as string) as { code: number; reason: string; message: string };
    throw err;
  }
  throw new Error('accepted');
}

describe('propagation', () => {
  test('Background: the Job goes at once, then the garbage collector deletes its pods', async () => {
    const { job, pods } = await jobWithPods('background', 2);
    const jobs = await recordWatch(cluster.kubeConfig, '/apis/batch/v1/namespaces/default/jobs', {
      fieldSelector: 'metadata.name=background',
    });
    const podWatch = await recordWatch(cluster.kubeConfig, '/api/v1/namespaces/default/pods', {
      labelSelector: `job-name=background`,
    });
    const answer = await batch.deleteNamespacedJob({
      name: 'background',
      namespace: 'default',
      propagationPolicy: 'Background',
    });
    expect(answer).toMatchObject({
      status: 'Success',
      details: { name: 'background', group: 'batch', kind: 'jobs', uid: job.metadata.uid },
    });
    expect(jobNamed(cluster, 'background')).toBeUndefined();
    await waitUntil(() => pods.every((p) => gone('default', p.metadata.uid)), 'pods collected');
    await waitUntil(
      () =>
        podWatch.events.filter((e) => e.type === 'DELETED').length === 2 &&
        jobs.events.some((e) => e.type === 'DELETED'),
      'DELETED events',
    );
    jobs.stop();
    podWatch.stop();
    const jobGone = Number(jobs.events.find((e) => e.type === 'DELETED')?.object.metadata.resourceVersion);
    for (const e of podWatch.events.filter((e) => e.type === 'DELETED'))
      expect(Number(e.object.metadata.resourceVersion)).toBeGreaterThan(jobGone);
  });

  test('Foreground: the Job waits with foregroundDeletion until its blocking pods are gone, and goes last', async () => {
    const { job, pods } = await jobWithPods('foreground', 2);
    await holdPod(pods[0] as KubeObject);
    const { body: answer } = await rawDelete('/apis/batch/v1/namespaces/default/jobs/foreground', 'Foreground');
    expect(answer.metadata).toMatchObject({
      name: 'foreground',
      uid: job.metadata.uid,
      finalizers: ['foregroundDeletion'],
      deletionGracePeriodSeconds: 0,
    });
    expect(answer.metadata.deletionTimestamp).toBeTruthy();
    // The free pod goes; the held one is deleting but present, so the Job stays.
    await waitUntil(() => gone('default', pods[1]?.metadata.uid ?? ''), 'unheld pod collected');
    await waitUntil(
      () => cluster.objects('pods').find((p) => p.metadata.uid === pods[0]?.metadata.uid)?.metadata.deletionTimestamp,
      'held pod deleting',
    );
    expect(jobNamed(cluster, 'foreground')?.metadata.finalizers).toEqual(['foregroundDeletion']);
    await releasePod(pods[0] as KubeObject);
    await waitUntil(() => jobNamed(cluster, 'foreground') === undefined, 'Job removed');
    expect(podsOf(cluster, job)).toEqual([]);
  });

  test('Orphan (and no policy, with its Warning): the Job goes, its pods stay without owner or tracking finalizer', async () => {
    const { pods } = await jobWithPods('orphan', 1);
    const { body: answer } = await rawDelete('/apis/batch/v1/namespaces/default/jobs/orphan', 'Orphan');
    expect(answer.metadata.finalizers).toEqual(['orphan']);
    await waitUntil(() => jobNamed(cluster, 'orphan') === undefined, 'Job removed');
    const orphan = await waitUntil(() => {
      const pod = cluster.objects('pods').find((p) => p.metadata.uid === pods[0]?.metadata.uid);
      return pod && !pod.metadata.finalizers ? pod : undefined;
    }, 'tracking finalizer removed');
    expect(orphan.metadata.ownerReferences).toBeUndefined();
    expect(orphan.metadata.deletionTimestamp).toBeUndefined();

    const { pods: defaultPods } = await jobWithPods('no-policy', 1);
    const { warning } = await rawDelete('/apis/batch/v1/namespaces/default/jobs/no-policy');
    expect(warning).toBe(
      '299 - "child pods are preserved by default when jobs are deleted; set propagationPolicy=Background to remove them or set propagationPolicy=Orphan to suppress this warning"',
    );
    await waitUntil(() => jobNamed(cluster, 'no-policy') === undefined, 'Job removed');
    await waitUntil(
      () =>
        cluster
          .objects('pods')
          .find((p) => p.metadata.uid === defaultPods[0]?.metadata.uid && !p.metadata.ownerReferences),
      'pod orphaned',
    );
  });

  test('a dependent with a remaining owner only loses the reference to the deleted one', async () => {
    const a = (await batch.createNamespacedJob({
      namespace: 'default',
      body: jobManifest('owner-a', { suspend: true }),
    })) as unknown as KubeObject;
    const b = (await batch.createNamespacedJob({
      namespace: 'default',
      body: jobManifest('owner-b', { suspend: true }),
    })) as unknown as KubeObject;
    const ref = (job: KubeObject) => ({
      apiVersion: 'batch/v1',
      kind: 'Job',
      name: job.metadata.name,
      uid: job.metadata.uid,
    });
    const pod = (await core.createNamespacedPod({
      namespace: 'default',
      body: {
        metadata: { name: 'shared', ownerReferences: [ref(a), ref(b)] },
        spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] },
      },
    })) as unknown as KubeObject;
    await batch.deleteNamespacedJob({ name: 'owner-a', namespace: 'default', propagationPolicy: 'Background' });
    await waitUntil(
      () => cluster.objects('pods').find((p) => p.metadata.name === 'shared')?.metadata.ownerReferences?.length === 1,
      'reference stripped',
    );
    expect(cluster.objects('pods').find((p) => p.metadata.name === 'shared')?.metadata.ownerReferences?.[0]?.uid).toBe(
      b.metadata.uid,
    );
    await batch.deleteNamespacedJob({ name: 'owner-b', namespace: 'default', propagationPolicy: 'Background' });
    await waitUntil(() => gone('default', pod.metadata.uid), 'pod collected with its last owner');
  });
});

describe('ttlSecondsAfterFinished', () => {
  test('a finished Job is deleted (Foreground: pods first) once its TTL in real seconds has passed', async () => {
    const kubelet = new FakeKubelet(cluster.kubeConfig);
    const job = (await batch.createNamespacedJob({
      namespace: 'default',
      body: jobManifest('short-lived', { ttlSecondsAfterFinished: 1 }),
    })) as unknown as KubeObject;
    const [pod] = await activePods(cluster, job, 1);
    const jobs = await recordWatch(cluster.kubeConfig, '/apis/batch/v1/namespaces/default/jobs', {
      fieldSelector: 'metadata.name=short-lived',
    });
    await kubelet.exit(pod as KubeObject, 0);
    const complete = await jobWithCondition(cluster, 'short-lived', 'Complete');
    await waitUntil(() => jobNamed(cluster, 'short-lived') === undefined, 'Job deleted', { timeoutMs: 10_000 });
    const deletedAt = Date.now();
    jobs.stop();
    const finishedAt = Date.parse(complete.status.completionTime);
    expect(deletedAt - finishedAt).toBeGreaterThanOrEqual(1000);
    // Deleted in the foreground: the pod went before the Job.
    expect(jobs.events.some((e) => e.object.metadata.finalizers?.includes('foregroundDeletion'))).toBe(true);
    expect(podsOf(cluster, job)).toEqual([]);
  });
});

describe('namespace deletion', () => {
  test('a deleted namespace is Terminating, refuses new content, loses its content, then goes', async () => {
    await core.createNamespace({ body: { metadata: { name: 'doomed' } } });
    const { pods } = await jobWithPods('inside', 1, 'doomed');
    await holdPod(pods[0] as KubeObject, 'doomed');
    const { body: answer } = await rawDelete('/api/v1/namespaces/doomed');
    expect(answer).toMatchObject({ metadata: { name: 'doomed' }, status: { phase: 'Terminating' } });
    const refused = await status(() => batch.createNamespacedJob({ namespace: 'doomed', body: jobManifest('late') }));
    expect(refused).toMatchObject({
      code: 403,
      reason: 'Forbidden',
      message:
        'jobs.batch "late" is forbidden: unable to create new content in namespace doomed because it is being terminated',
    });
    const again = await status(() => core.deleteNamespace({ name: 'doomed' }));
    expect(again).toMatchObject({
      code: 409,
      reason: 'Conflict',
      message:
        'Operation cannot be fulfilled on namespaces "doomed": The system is ensuring all content is removed from this namespace.  Upon completion, this namespace will automatically be purged by the system.',
    });
    // The held pod is the only thing left; the namespace says so.
    const waiting = await waitUntil(() => {
      const ns = cluster.objects('namespaces').find((n) => n.metadata.name === 'doomed');
      const conditions = (ns?.status?.conditions ?? []) as { type: string; status: string; message: string }[];
      return conditions.find((c) => c.type === 'NamespaceContentRemaining' && c.status === 'True')
        ? conditions
        : undefined;
    }, 'NamespaceContentRemaining');
    expect(waiting.find((c) => c.type === 'NamespaceContentRemaining')?.message).toBe(
      'Some resources are remaining: pods. has 1 resource instances',
    );
    expect(waiting.find((c) => c.type === 'NamespaceFinalizersRemaining')?.message).toBe(
      `Some content in the namespace has finalizers remaining: ${hold} in 1 resource instances`,
    );
    expect(cluster.objects('jobs', 'doomed')).toEqual([]);
    await releasePod(pods[0] as KubeObject, 'doomed');
    await waitUntil(
      () => !cluster.objects('namespaces').some((n) => n.metadata.name === 'doomed'),
      'namespace removed',
    );
    expect(cluster.objects('pods', 'doomed')).toEqual([]);
    expect(cluster.objects('events', 'doomed')).toEqual([]);
  });

  test('default, kube-system and kube-public may not be deleted', async () => {
    for (const name of ['default', 'kube-system', 'kube-public']) {
      expect(await status(() => core.deleteNamespace({ name }))).toMatchObject({
        code: 403,
        reason: 'Forbidden',
        message: `namespaces "${name}" is forbidden: this namespace may not be deleted`,
      });
    }
  });
});
