import { CoreV1Api } from '@kubernetes/client-node';
import { afterEach, expect, test } from 'vitest';
import { startSimulatedCluster, type ContainerScript, type SimulatedCluster } from '../../src/sim/index.js';
import type { KubeObject } from '../../src/sim/types.js';
import {
  behaviour,
  containerStatus,
  createPod,
  getJson,
  podEvents,
  podWhen,
  recordStates,
  waitingReason,
} from '../helpers/sim-pods.js';
import { waitUntil } from '../helpers/wait.js';

let cluster: SimulatedCluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

const rfc3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const containerId = /^containerd:\/\/[0-9a-f]{64}$/;
type Condition = {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastProbeTime?: unknown;
  lastTransitionTime?: string;
};
const conditions = (pod: KubeObject): Condition[] => (pod.status?.conditions ?? []) as Condition[];
const condition = (pod: KubeObject, type: string) => conditions(pod).find((c) => c.type === type);
const terminated = (pod: KubeObject, name = 'main') =>
  containerStatus(pod, name)?.state?.terminated as Record<string, unknown> | undefined;

test('a running pod: phase Running, the five conditions True, a running container with its image digest and containerID', async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { runtime: 'scripted' } });
  await createPod(cluster, {
    name: 'runner',
    annotations: behaviour({ durationMs: -1 }),
    container: { resources: { requests: { cpu: '100m' } } },
  });
  await podWhen(cluster, 'runner', 'running', (p) => p.status?.phase === 'Running');
  const { body: pod } = await getJson(cluster, '/api/v1/namespaces/default/pods/runner');
  const status = pod['status'] as Record<string, unknown>;
  expect(status).toMatchObject({
    phase: 'Running',
    qosClass: 'Burstable',
    hostIP: '172.18.0.2',
    startTime: expect.stringMatching(rfc3339),
  });
  expect(status['podIPs']).toEqual([{ ip: status['podIP'] }]);
  expect(
    (status['conditions'] as Condition[]).map((c) => [
      c.type,
      c.status,
      c.lastProbeTime,
      rfc3339.test(c.lastTransitionTime ?? ''),
    ]),
  ).toEqual([
    ['PodReadyToStartContainers', 'True', null, true],
    ['Initialized', 'True', null, true],
    ['Ready', 'True', null, true],
    ['ContainersReady', 'True', null, true],
    ['PodScheduled', 'True', null, true],
  ]);
  expect((status['containerStatuses'] as unknown[])[0]).toEqual({
    name: 'main',
    state: { running: { startedAt: expect.stringMatching(rfc3339) } },
    lastState: {},
    ready: true,
    restartCount: 0,
    image: 'docker.io/library/busybox:1.36',
    imageID: expect.stringMatching(/^docker\.io\/library\/busybox@sha256:[0-9a-f]{64}$/),
    containerID: expect.stringMatching(containerId),
    started: true,
  });
  expect(podEvents(cluster, 'runner').map((e) => e.split(' ').slice(0, 2).join(' '))).toEqual([
    'Normal Scheduled',
    'Normal Pulling',
    'Normal Pulled',
    'Normal Created',
    'Normal Started',
  ]);
  expect(podEvents(cluster, 'runner').slice(3)).toEqual([
    'Normal Created Created container: main',
    'Normal Started Started container main',
  ]);
});

test('the pod is Pending in ContainerCreating while its image is pulled', async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { runtime: 'scripted', pullLatencyMs: 60_000 } });
  await createPod(cluster, { name: 'slow-pull' });
  const pod = await podWhen(
    cluster,
    'slow-pull',
    'creating',
    (p) => waitingReason(p) === 'ContainerCreating' && !!p.status?.podIP,
  );
  expect(pod.status?.phase).toBe('Pending');
  expect(containerStatus(pod)).toMatchObject({
    ready: false,
    started: false,
    image: 'busybox:1.36',
    imageID: '',
    state: { waiting: { reason: 'ContainerCreating' } },
  });
  expect(condition(pod, 'Ready')).toMatchObject({
    status: 'False',
    reason: 'ContainersNotReady',
    message: 'containers with unready status: [main]',
  });
});

test('exit 0 under restartPolicy Never: terminated Completed, phase Succeeded, PodCompleted, then the sandbox is gone', async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01 });
  await createPod(cluster, { name: 'ok', container: { command: ['sh', '-c', 'echo done'] } });
  const pod = await podWhen(
    cluster,
    'ok',
    'sandbox removed',
    (p) => p.status?.phase === 'Succeeded' && condition(p, 'PodReadyToStartContainers')?.status === 'False',
  );
  expect(terminated(pod)).toEqual({
    exitCode: 0,
    reason: 'Completed',
    startedAt: expect.stringMatching(rfc3339),
    finishedAt: expect.stringMatching(rfc3339),
    containerID: expect.stringMatching(containerId),
  });
  expect(containerStatus(pod)).toMatchObject({ ready: false, started: false });
  expect(condition(pod, 'Ready')).toMatchObject({ status: 'False', reason: 'PodCompleted' });
  expect(condition(pod, 'ContainersReady')).toMatchObject({ status: 'False', reason: 'PodCompleted' });
  expect(condition(pod, 'Initialized')).toMatchObject({ status: 'True', reason: 'PodCompleted' });
});

test('a real process exiting 3: terminated Error with exit code 3, phase Failed, its output in the log', async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01 });
  await createPod(cluster, { name: 'three', container: { command: ['sh', '-c', 'echo hi; exit 3'] } });
  const pod = await podWhen(cluster, 'three', 'failed', (p) => p.status?.phase === 'Failed');
  expect(terminated(pod)).toMatchObject({ exitCode: 3, reason: 'Error' });
  expect(condition(pod, 'Ready')).toMatchObject({ status: 'False', reason: 'PodFailed' });
  expect(
    await cluster.kubeConfig.makeApiClient(CoreV1Api).readNamespacedPodLog({ namespace: 'default', name: 'three' }),
  ).toBe('hi\n');
});

test('OOMKilled: terminated reason OOMKilled, exit 137, phase Failed', async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { runtime: 'scripted' } });
  await createPod(cluster, { name: 'oom', annotations: behaviour({ durationMs: 20, oomKilled: true }) });
  const pod = await podWhen(cluster, 'oom', 'failed', (p) => p.status?.phase === 'Failed');
  expect(terminated(pod)).toMatchObject({ exitCode: 137, reason: 'OOMKilled' });
});

test("an executable that does not exist: StartError, exit 128, containerd's message, phase Failed", async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01 });
  await createPod(cluster, { name: 'no-exec', container: { command: ['python-does-not-exist', '-c', 'print(1)'] } });
  const pod = await podWhen(cluster, 'no-exec', 'failed', (p) => p.status?.phase === 'Failed');
  const message =
    'failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "python-does-not-exist": executable file not found in $PATH: unknown';
  expect(terminated(pod)).toEqual({
    exitCode: 128,
    reason: 'StartError',
    message,
    startedAt: '1970-01-01T00:00:00Z',
    finishedAt: expect.stringMatching(rfc3339),
    containerID: expect.stringMatching(containerId),
  });
  expect(podEvents(cluster, 'no-exec')).toEqual(
    expect.arrayContaining(['Normal Created Created container: main', `Warning Failed Error: ${message}`]),
  );
});

test('restartPolicy OnFailure: restarts in place with restartCount, lastState, and a CrashLoopBackOff that doubles from 10 s', async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { runtime: 'scripted' } });
  const recorder = await recordStates(cluster, 'crash');
  const created = await createPod(cluster, {
    name: 'crash',
    annotations: behaviour({ exitCode: 1, durationMs: 20, logs: ['boom'] }),
    spec: { restartPolicy: 'OnFailure' },
  });
  const uid = created.metadata?.uid ?? '';
  await waitUntil(
    () => recorder.states.filter((s) => s.state === 'waiting:CrashLoopBackOff').length >= 3,
    'three back-offs',
    { timeoutMs: 10_000 },
  );
  recorder.stop();
  const backoffs = recorder.states
    .filter((s) => s.state === 'waiting:CrashLoopBackOff')
    .map((s) => containerStatus(s.pod)?.state?.waiting?.message);
  expect(backoffs.slice(0, 3)).toEqual(
    ['10s', '20s', '40s'].map((d) => `back-off ${d} restarting failed container=main pod=crash_default(${uid})`),
  );
  const third = recorder.states.filter((s) => s.state === 'waiting:CrashLoopBackOff')[2]!.pod;
  expect(third.status?.phase).toBe('Running');
  expect(containerStatus(third)).toMatchObject({
    restartCount: 3,
    ready: false,
    started: false,
    lastState: { terminated: { exitCode: 1, reason: 'Error', containerID: expect.stringMatching(containerId) } },
  });
  // The first failure restarts at once; back-off starts with the second.
  const sequence = recorder.states.map((s) => s.state);
  const firstExit = sequence.indexOf('terminated:Error');
  expect(sequence[firstExit + 1]).toBe('running');
  expect(sequence.indexOf('waiting:CrashLoopBackOff')).toBeGreaterThan(firstExit + 1);
  expect(podEvents(cluster, 'crash')).toContain(
    `Warning BackOff Back-off restarting failed container main in pod crash_default(${uid})`,
  );
});

test('OnFailure: a container that fails twice then exits 0 completes the pod with restartCount 2', async () => {
  const script: ContainerScript = (_pod, _container, { restartCount }) =>
    restartCount < 2 ? { exitCode: 2 } : { exitCode: 0 };
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { runtime: 'scripted', script } });
  await createPod(cluster, { name: 'third-time', spec: { restartPolicy: 'OnFailure' } });
  const pod = await podWhen(cluster, 'third-time', 'succeeded', (p) => p.status?.phase === 'Succeeded');
  expect(containerStatus(pod)).toMatchObject({
    restartCount: 2,
    state: { terminated: { exitCode: 0, reason: 'Completed' } },
    lastState: { terminated: { exitCode: 2, reason: 'Error' } },
  });
});

test('restartPolicy Always restarts even a container that exits 0, and the pod stays Running', async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { runtime: 'scripted' } });
  await createPod(cluster, { name: 'always', spec: { restartPolicy: 'Always' } });
  const pod = await podWhen(cluster, 'always', 'back-off after exit 0', (p) => waitingReason(p) === 'CrashLoopBackOff');
  expect(pod.status?.phase).toBe('Running');
  expect(containerStatus(pod)).toMatchObject({ lastState: { terminated: { exitCode: 0, reason: 'Completed' } } });
});

test('init containers run first, one at a time: PodInitializing, Initialized=False, then the main container', async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { runtime: 'scripted' } });
  await createPod(cluster, {
    name: 'with-init',
    annotations: { 'sim.k8s-jobs.io/behaviour-setup': JSON.stringify({ durationMs: 300 }) },
    spec: { initContainers: [{ name: 'setup', image: 'busybox:1.36' }] },
  });
  const initializing = await podWhen(
    cluster,
    'with-init',
    'init running',
    (p) => !!containerStatus(p, 'setup')?.state?.running,
  );
  expect(initializing.status?.phase).toBe('Pending');
  expect(waitingReason(initializing, 'main')).toBe('PodInitializing');
  expect(condition(initializing, 'Initialized')).toMatchObject({
    status: 'False',
    reason: 'ContainersNotInitialized',
    message: 'containers with incomplete status: [setup]',
  });
  const done = await podWhen(cluster, 'with-init', 'succeeded', (p) => p.status?.phase === 'Succeeded');
  expect(containerStatus(done, 'setup')?.state?.terminated).toMatchObject({ exitCode: 0, reason: 'Completed' });
  expect(done.status?.initContainerStatuses).toHaveLength(1);
});

test('a failed init container under restartPolicy Never fails the pod; the main container never starts', async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { runtime: 'scripted' } });
  await createPod(cluster, {
    name: 'init-fails',
    annotations: { 'sim.k8s-jobs.io/behaviour-setup': JSON.stringify({ exitCode: 1 }) },
    spec: { initContainers: [{ name: 'setup', image: 'busybox:1.36' }] },
  });
  const pod = await podWhen(cluster, 'init-fails', 'failed', (p) => p.status?.phase === 'Failed');
  expect(containerStatus(pod, 'setup')?.state?.terminated).toMatchObject({ exitCode: 1, reason: 'Error' });
  expect(waitingReason(pod, 'main')).toBe('PodInitializing');
});

test('a container the runtime never creates waits in ContainerCreating', async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { runtime: 'scripted' } });
  await createPod(cluster, { name: 'stuck', annotations: behaviour({ neverStart: true }) });
  await waitUntil(() => podEvents(cluster!, 'stuck').some((e) => e.startsWith('Normal Pulled ')), 'pulled');
  const pod = await podWhen(
    cluster,
    'stuck',
    'sandbox ready',
    (p) => condition(p, 'PodReadyToStartContainers')?.status === 'True',
  );
  expect(waitingReason(pod)).toBe('ContainerCreating');
  expect(pod.status?.phase).toBe('Pending');
});

test('pod activeDeadlineSeconds: the kubelet kills the containers and fails the pod with DeadlineExceeded', async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { runtime: 'scripted' } });
  await createPod(cluster, {
    name: 'deadline',
    annotations: behaviour({ durationMs: -1 }),
    spec: { activeDeadlineSeconds: 1 },
  });
  const pod = await podWhen(cluster, 'deadline', 'failed', (p) => p.status?.phase === 'Failed');
  expect(pod.status).toMatchObject({
    reason: 'DeadlineExceeded',
    message: 'Pod was active on the node longer than the specified deadline',
  });
  expect(terminated(pod)).toMatchObject({ exitCode: 143, reason: 'Error' });
  expect(podEvents(cluster, 'deadline')).toEqual(
    expect.arrayContaining([
      'Normal DeadlineExceeded Pod was active on the node longer than the specified deadline',
      'Normal Killing Stopping container main',
    ]),
  );
});

test('two containers: the pod runs while one has finished, and completes when both have', async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { runtime: 'scripted' } });
  await createPod(cluster, {
    name: 'pair',
    annotations: { 'sim.k8s-jobs.io/behaviour-slow': JSON.stringify({ durationMs: 400 }) },
    spec: {
      containers: [
        { name: 'fast', image: 'busybox:1.36' },
        { name: 'slow', image: 'busybox:1.36' },
      ],
    },
  });
  const half = await podWhen(
    cluster,
    'pair',
    'fast done',
    (p) => !!containerStatus(p, 'fast')?.state?.terminated && !!containerStatus(p, 'slow')?.state?.running,
  );
  expect(half.status?.phase).toBe('Running');
  expect(condition(half, 'Ready')).toMatchObject({
    status: 'False',
    message: 'containers with unready status: [fast]',
  });
  await podWhen(cluster, 'pair', 'succeeded', (p) => p.status?.phase === 'Succeeded');
});
