import { BatchV1Api, CoreV1Api, type V1PodSpec } from '@kubernetes/client-node';
import { afterEach, expect, test } from 'vitest';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import type { KubeObject } from '../../src/sim/types.js';
import { waitUntil } from '../helpers/wait.js';

// End to end: the Job controller creates pods, the scheduler places them, the kubelet runs them.
let cluster: SimulatedCluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

type Condition = { type: string; status: string; reason?: string };

async function createJob(
  c: SimulatedCluster,
  name: string,
  spec: Record<string, unknown>,
  podSpec: Partial<V1PodSpec> & Pick<V1PodSpec, 'containers'>,
): Promise<void> {
  await c.kubeConfig.makeApiClient(BatchV1Api).createNamespacedJob({
    namespace: 'default',
    body: { metadata: { name }, spec: { ...spec, template: { spec: { restartPolicy: 'Never', ...podSpec } } } },
  });
}

async function finished(c: SimulatedCluster, name: string): Promise<KubeObject> {
  return waitUntil(() => {
    const job = c.objects('jobs', 'default').find((j) => j.metadata.name === name);
    const done = ((job?.status?.conditions ?? []) as Condition[]).some(
      (x) => (x.type === 'Complete' || x.type === 'Failed') && x.status === 'True',
    );
    return done ? job : undefined;
  }, `job ${name} finished`);
}

const jobPods = (c: SimulatedCluster, name: string) =>
  c.objects('pods', 'default').filter((p) => p.metadata.labels?.['batch.kubernetes.io/job-name'] === name);

test('a Job whose real process exits 0 completes; its pod Succeeded and its log readable', async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01 });
  await createJob(
    cluster,
    'ok',
    {},
    { containers: [{ name: 'main', image: 'busybox:1.36', command: ['sh', '-c', 'echo finished'] }] },
  );
  const job = await finished(cluster, 'ok');
  expect((job.status?.conditions as Condition[]).map((c) => c.type)).toEqual(['SuccessCriteriaMet', 'Complete']);
  expect(job.status).toMatchObject({ succeeded: 1 });
  const [pod] = jobPods(cluster, 'ok');
  expect(pod?.status?.phase).toBe('Succeeded');
  expect(
    await cluster.kubeConfig
      .makeApiClient(CoreV1Api)
      .readNamespacedPodLog({ namespace: 'default', name: pod!.metadata.name }),
  ).toBe('finished\n');
});

test('a Job whose process exits 1 with backoffLimit 0 fails with BackoffLimitExceeded', async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01 });
  await createJob(
    cluster,
    'bad',
    { backoffLimit: 0 },
    { containers: [{ name: 'main', image: 'busybox:1.36', command: ['sh', '-c', 'exit 1'] }] },
  );
  const job = await finished(cluster, 'bad');
  expect((job.status?.conditions as Condition[]).find((c) => c.type === 'Failed')).toMatchObject({
    status: 'True',
    reason: 'BackoffLimitExceeded',
  });
  expect(job.status).toMatchObject({ failed: 1 });
  expect(jobPods(cluster, 'bad').map((p) => p.status?.phase)).toEqual(['Failed']);
});

test('restartPolicy OnFailure: container restarts count toward backoffLimit and the Job fails', async () => {
  cluster = await startSimulatedCluster({
    timeScale: 0.01,
    kubelet: { runtime: 'scripted', script: () => ({ exitCode: 1 }) },
  });
  await createJob(
    cluster,
    'restarts',
    { backoffLimit: 2 },
    { restartPolicy: 'OnFailure', containers: [{ name: 'main', image: 'busybox:1.36' }] },
  );
  const job = await finished(cluster, 'restarts');
  expect((job.status?.conditions as Condition[]).find((c) => c.type === 'Failed')).toMatchObject({
    status: 'True',
    reason: 'BackoffLimitExceeded',
  });
  // With OnFailure the Job controller deletes the restarting pod; the kubelet stops it and it goes.
  await waitUntil(() => jobPods(cluster!, 'restarts').length === 0, 'pod gone');
});

test('a Job past its activeDeadlineSeconds: the kubelet stops its running pod, the Job fails with DeadlineExceeded', async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01 });
  await createJob(
    cluster,
    'slow',
    { activeDeadlineSeconds: 1 },
    { containers: [{ name: 'main', image: 'busybox:1.36', command: ['sleep', '30'] }] },
  );
  const job = await finished(cluster, 'slow');
  expect((job.status?.conditions as Condition[]).find((c) => c.type === 'Failed')).toMatchObject({
    status: 'True',
    reason: 'DeadlineExceeded',
  });
  await waitUntil(
    () =>
      jobPods(cluster!, 'slow').length === 0 || jobPods(cluster!, 'slow').every((p) => p.status?.phase === 'Failed'),
    'pod stopped',
  );
});
