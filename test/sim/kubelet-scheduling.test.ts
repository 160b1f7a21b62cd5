import { BatchV1Api, CoreV1Api } from '@kubernetes/client-node';
import { afterEach, expect, test } from 'vitest';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import { behaviour, createPod, podEvent, podEvents, podNamed, podWhen } from '../helpers/sim-pods.js';
import { waitUntil } from '../helpers/wait.js';

let cluster: SimulatedCluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

const runForever = behaviour({ durationMs: -1 });
type Condition = { type: string; status?: string; reason?: string; message?: string };
const scheduledCondition = (pod: { status?: { conditions?: Condition[] } }) =>
  pod.status?.conditions?.find((c) => c.type === 'PodScheduled');

test('the scheduler binds a pending pod to sim-node: nodeName, PodScheduled=True, a Scheduled event from default-scheduler', async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { runtime: 'scripted' } });
  await createPod(cluster, { name: 'bound', annotations: runForever });
  const pod = await podWhen(cluster, 'bound', 'bound', (p) => !!p.spec?.nodeName);
  expect(pod.spec?.nodeName).toBe('sim-node');
  expect(scheduledCondition(pod)).toMatchObject({ type: 'PodScheduled', status: 'True', lastProbeTime: null });
  const event = podEvent(cluster, 'bound', 'Scheduled');
  expect(event).toMatchObject({
    type: 'Normal',
    message: 'Successfully assigned default/bound to sim-node',
    source: { component: 'default-scheduler' },
  });
});

test('a pod requesting more cpu than is free stays Pending, Unschedulable with the scheduler message, until a pod on the node goes', async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { runtime: 'scripted', capacity: { cpu: '1' } } });
  const requests = (cpu: string) => ({ resources: { requests: { cpu } } });
  await createPod(cluster, { name: 'big', annotations: runForever, container: requests('800m') });
  await podWhen(cluster, 'big', 'running', (p) => p.status?.phase === 'Running');
  await createPod(cluster, { name: 'late', annotations: runForever, container: requests('500m') });
  const waiting = await podWhen(cluster, 'late', 'unschedulable', (p) => scheduledCondition(p)?.status === 'False');
  const message =
    '0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.';
  expect(scheduledCondition(waiting)).toMatchObject({ status: 'False', reason: 'Unschedulable', message });
  expect(waiting.status?.phase).toBe('Pending');
  expect(waiting.spec?.nodeName).toBeUndefined();
  expect(podEvents(cluster, 'late')).toContain(`Warning FailedScheduling ${message}`);

  await cluster.kubeConfig.makeApiClient(CoreV1Api).deleteNamespacedPod({ namespace: 'default', name: 'big' });
  const placed = await podWhen(cluster, 'late', 'scheduled once capacity freed', (p) => !!p.spec?.nodeName);
  expect(scheduledCondition(placed)).toMatchObject({ status: 'True' });
  expect(podNamed(cluster, 'big')).toBeUndefined();
});

test('a pod that finishes frees its capacity for an unschedulable one', async () => {
  cluster = await startSimulatedCluster({
    timeScale: 0.01,
    kubelet: { runtime: 'scripted', capacity: { memory: '1Gi' } },
  });
  await createPod(cluster, {
    name: 'first',
    annotations: behaviour({ durationMs: 300 }),
    container: { resources: { requests: { memory: '768Mi' } } },
  });
  await podWhen(cluster, 'first', 'running', (p) => p.status?.phase === 'Running');
  await createPod(cluster, {
    name: 'second',
    annotations: runForever,
    container: { resources: { limits: { memory: '512Mi' } } },
  });
  await podWhen(cluster, 'second', 'unschedulable', (p) => scheduledCondition(p)?.reason === 'Unschedulable');
  await podWhen(cluster, 'first', 'succeeded', (p) => p.status?.phase === 'Succeeded');
  await podWhen(cluster, 'second', 'scheduled', (p) => p.spec?.nodeName === 'sim-node');
});

test('requests beyond the whole node: every insufficient resource, and preemption is not helpful', async () => {
  cluster = await startSimulatedCluster({
    timeScale: 0.01,
    kubelet: { runtime: 'scripted', capacity: { cpu: '2', memory: '1Gi' } },
  });
  await createPod(cluster, {
    name: 'huge',
    container: {
      resources: { requests: { cpu: '4', memory: '2Gi', 'nvidia.com/gpu': '1' }, limits: { 'nvidia.com/gpu': '1' } },
    },
  });
  const pod = await podWhen(cluster, 'huge', 'unschedulable', (p) => scheduledCondition(p)?.reason === 'Unschedulable');
  expect(scheduledCondition(pod)).toMatchObject({
    message:
      '0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory, 1 Insufficient nvidia.com/gpu. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.',
  });
});

test('the node runs at most capacity.pods pods: the next one is Unschedulable with "Too many pods"', async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { runtime: 'scripted', capacity: { pods: 1 } } });
  await createPod(cluster, { name: 'one', annotations: runForever });
  await podWhen(cluster, 'one', 'bound', (p) => !!p.spec?.nodeName);
  await createPod(cluster, { name: 'two', annotations: runForever });
  const pod = await podWhen(cluster, 'two', 'unschedulable', (p) => scheduledCondition(p)?.reason === 'Unschedulable');
  expect(scheduledCondition(pod)?.message).toBe(
    '0/1 nodes are available: 1 Too many pods. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.',
  );
});

test('a pod with scheduling gates is not scheduled (SchedulingGated) until the gates are removed', async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { runtime: 'scripted' } });
  await createPod(cluster, {
    name: 'gated',
    annotations: runForever,
    spec: { schedulingGates: [{ name: 'example.com/wait' }] },
  });
  const gated = await podWhen(cluster, 'gated', 'gated', (p) => scheduledCondition(p)?.reason === 'SchedulingGated');
  expect(scheduledCondition(gated)).toMatchObject({
    status: 'False',
    message: 'Scheduling is blocked due to non-empty scheduling gates',
  });
  const core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  await core.replaceNamespacedPod({
    namespace: 'default',
    name: 'gated',
    body: {
      ...(await core.readNamespacedPod({ namespace: 'default', name: 'gated' })),
      spec: { ...gated.spec, schedulingGates: [] },
    },
  });
  await podWhen(cluster, 'gated', 'scheduled', (p) => p.spec?.nodeName === 'sim-node');
});

test('with the kubelet disabled there is no node: pods stay unscheduled and Pending', async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { enabled: false } });
  await createPod(cluster, { name: 'alone' });
  // Proving an absence: a Job created after the pod gets its own pod from the Job controller, by
  // which time the controllers have seen the first pod (and a scheduler, were there one, bound it).
  const job = {
    metadata: { name: 'later' },
    spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox' }] } } },
  };
  await cluster.kubeConfig.makeApiClient(BatchV1Api).createNamespacedJob({ namespace: 'default', body: job });
  const jobPod = await waitUntil(
    () => cluster?.objects('pods').find((p) => p.metadata.ownerReferences?.some((o) => o.name === 'later')),
    "the Job's pod",
  );
  const pod = podNamed(cluster, 'alone');
  expect(pod?.spec?.nodeName).toBeUndefined();
  expect(pod?.status).toEqual({ phase: 'Pending', qosClass: 'BestEffort' });
  expect(podNamed(cluster, jobPod.metadata.name)?.spec?.nodeName).toBeUndefined();
});

test('nodeSelector and required node affinity are matched against the node labels', async () => {
  cluster = await startSimulatedCluster({
    timeScale: 0.01,
    kubelet: { runtime: 'scripted', nodeLabels: { 'example.com/pool': 'batch' } },
  });
  await createPod(cluster, {
    name: 'fits',
    spec: { nodeSelector: { 'kubernetes.io/os': 'linux', 'example.com/pool': 'batch' } },
  });
  await createPod(cluster, {
    name: 'affine',
    spec: {
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [
              { matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['sim-node'] }] },
            ],
          },
        },
      },
    },
  });
  await createPod(cluster, { name: 'gpu-only', spec: { nodeSelector: { 'example.com/pool': 'gpu' } } });
  await podWhen(cluster, 'fits', 'scheduled', (p) => p.spec?.nodeName === 'sim-node');
  await podWhen(cluster, 'affine', 'scheduled', (p) => p.spec?.nodeName === 'sim-node');
  const pod = await podWhen(
    cluster,
    'gpu-only',
    'unschedulable',
    (p) => scheduledCondition(p)?.reason === 'Unschedulable',
  );
  expect(scheduledCondition(pod)?.message).toBe(
    "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
  );
});

test('repeated scheduling failures do not flood events: the FailedScheduling series is written twice at most', async () => {
  // At this scale the scheduler retries an unschedulable pod every 300 ms (5 min of cluster time).
  cluster = await startSimulatedCluster({ timeScale: 0.001, kubelet: { runtime: 'scripted' } });
  await createPod(cluster, { name: 'waiter', container: { resources: { requests: { cpu: '100' } } } });
  await podWhen(cluster, 'waiter', 'unschedulable', (p) => scheduledCondition(p)?.reason === 'Unschedulable');
  // A workload of 1.2 s (real time) is the clock: several retries happen while it runs.
  await createPod(cluster, { name: 'clock', annotations: behaviour({ durationMs: 1200 }) });
  await podWhen(cluster, 'clock', 'succeeded', (p) => p.status?.phase === 'Succeeded');
  const failures = cluster
    .objects('events', 'default')
    .filter((e) => e['reason'] === 'FailedScheduling' && (e['involvedObject'] as { name: string }).name === 'waiter');
  expect(failures).toHaveLength(1);
  expect(failures[0]!['count']).toBe(2);
});
