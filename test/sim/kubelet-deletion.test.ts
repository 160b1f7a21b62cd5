import { CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterEach, expect, test } from 'vitest';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import {
  behaviour,
  containerStatus,
  createPod,
  podEvents,
  podNamed,
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

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

async function pidOf(core: CoreV1Api, pod: string): Promise<number> {
  const pid = await waitUntil(
    async () => Number((await core.readNamespacedPodLog({ namespace: 'default', name: pod })).split('\n')[0]),
    `${pod} printed its pid`,
  );
  expect(alive(pid)).toBe(true);
  return pid;
}

test('deleting a running pod: SIGTERM to the real process (exit 143), Killing event, phase Failed, then the object goes', async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01 });
  const core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  const recorder = await recordStates(cluster, 'victim');
  await createPod(cluster, { name: 'victim', container: { command: ['sh', '-c', 'echo $$$$; exec sleep 30'] } });
  await podWhen(cluster, 'victim', 'running', (p) => p.status?.phase === 'Running');
  const pid = await pidOf(core, 'victim');
  const answer = await core.deleteNamespacedPod({ namespace: 'default', name: 'victim' });
  // The delete answers with the pod itself, now carrying its deletion deadline.
  expect(answer.metadata?.deletionGracePeriodSeconds).toBe(30);
  expect(answer.metadata?.deletionTimestamp).toBeInstanceOf(Date);
  await waitUntil(() => !podNamed(cluster!, 'victim'), 'pod gone');
  await waitUntil(() => recorder.states.at(-1)?.state.startsWith('terminated'), 'the final status seen on the watch');
  recorder.stop();
  expect(alive(pid)).toBe(false);
  const last = recorder.states.at(-1)!.pod;
  expect(last.status?.phase).toBe('Failed');
  expect(containerStatus(last)?.state?.terminated).toMatchObject({ exitCode: 143, reason: 'Error' });
  expect(podEvents(cluster, 'victim')).toContain('Normal Killing Stopping container main');
});

test('a process that ignores SIGTERM is SIGKILLed after the grace period (exit 137)', async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01 });
  const core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  const recorder = await recordStates(cluster, 'stubborn');
  await createPod(cluster, {
    name: 'stubborn',
    spec: { terminationGracePeriodSeconds: 3 },
    container: { command: ['sh', '-c', 'trap "" TERM; echo $$$$; while true; do sleep 1; done'] },
  });
  await podWhen(cluster, 'stubborn', 'running', (p) => p.status?.phase === 'Running');
  const pid = await pidOf(core, 'stubborn');
  await core.deleteNamespacedPod({ namespace: 'default', name: 'stubborn' });
  await waitUntil(() => !podNamed(cluster!, 'stubborn'), 'pod gone');
  await waitUntil(() => recorder.states.at(-1)?.state.startsWith('terminated'), 'the final status seen on the watch');
  recorder.stop();
  expect(alive(pid)).toBe(false);
  expect(containerStatus(recorder.states.at(-1)!.pod)?.state?.terminated).toMatchObject({
    exitCode: 137,
    reason: 'Error',
  });
});

test('a finalizer holds the deleted pod after the kubelet stopped it; its logs stay readable until it goes', async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { runtime: 'scripted' } });
  const core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  await core.createNamespacedPod({
    namespace: 'default',
    body: {
      metadata: {
        name: 'held',
        finalizers: ['example.com/hold'],
        annotations: behaviour({ durationMs: -1, logs: ['still here'] }),
      },
      spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox:1.36' }] },
    },
  });
  await podWhen(cluster, 'held', 'running', (p) => p.status?.phase === 'Running');
  await core.deleteNamespacedPod({ namespace: 'default', name: 'held' });
  const stopped = await podWhen(
    cluster,
    'held',
    'stopped and deleted with grace 0',
    (p) => p.status?.phase === 'Failed' && p.metadata.deletionGracePeriodSeconds === 0,
  );
  expect(stopped.metadata.finalizers).toEqual(['example.com/hold']);
  expect(containerStatus(stopped)?.state?.terminated).toMatchObject({ exitCode: 143, reason: 'Error' });
  expect(await core.readNamespacedPodLog({ namespace: 'default', name: 'held' })).toBe('still here\n');
  await core.patchNamespacedPod(
    { namespace: 'default', name: 'held', body: { metadata: { finalizers: null } } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
  await waitUntil(() => !podNamed(cluster!, 'held'), 'pod gone with its finalizer');
  await expect(core.readNamespacedPodLog({ namespace: 'default', name: 'held' })).rejects.toMatchObject({ code: 404 });
});

test('a deleted pod whose container never started ends with ContainerStatusUnknown (137) and phase Failed', async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { runtime: 'scripted' } });
  const core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  await core.createNamespacedPod({
    namespace: 'default',
    body: {
      metadata: { name: 'never-ran', finalizers: ['example.com/hold'] },
      spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'app:does-not-exist' }] },
    },
  });
  await podWhen(cluster, 'never-ran', 'pull failing', (p) => waitingReason(p) === 'ImagePullBackOff');
  await core.deleteNamespacedPod({ namespace: 'default', name: 'never-ran' });
  const pod = await podWhen(cluster, 'never-ran', 'terminated', (p) => p.status?.phase === 'Failed');
  expect(containerStatus(pod)?.state).toEqual({
    terminated: {
      exitCode: 137,
      reason: 'ContainerStatusUnknown',
      message: 'The container could not be located when the pod was terminated',
    },
  });
});

test('a pod deleted while in CrashLoopBackOff keeps its last termination in lastState', async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { runtime: 'scripted' } });
  const core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  await core.createNamespacedPod({
    namespace: 'default',
    body: {
      metadata: { name: 'looping', finalizers: ['example.com/hold'], annotations: behaviour({ exitCode: 1 }) },
      spec: { restartPolicy: 'OnFailure', containers: [{ name: 'main', image: 'busybox:1.36' }] },
    },
  });
  await podWhen(cluster, 'looping', 'crash looping', (p) => waitingReason(p) === 'CrashLoopBackOff');
  await core.deleteNamespacedPod({ namespace: 'default', name: 'looping' });
  const pod = await podWhen(cluster, 'looping', 'terminated', (p) => p.status?.phase === 'Failed');
  expect(containerStatus(pod)).toMatchObject({
    state: { terminated: { reason: 'ContainerStatusUnknown', exitCode: 137 } },
    lastState: { terminated: { reason: 'Error', exitCode: 1 } },
  });
});

test('a forced delete (grace 0) removes the pod at once and the kubelet kills its process', async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01 });
  const core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  await createPod(cluster, { name: 'forced', container: { command: ['sh', '-c', 'echo $$$$; exec sleep 30'] } });
  await podWhen(cluster, 'forced', 'running', (p) => p.status?.phase === 'Running');
  const pid = await pidOf(core, 'forced');
  await core.deleteNamespacedPod({ namespace: 'default', name: 'forced', gracePeriodSeconds: 0 });
  expect(podNamed(cluster, 'forced')).toBeUndefined();
  await waitUntil(() => !alive(pid), 'process killed');
});

test('unscheduled and finished pods are deleted without grace', async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { runtime: 'scripted', capacity: { cpu: '1' } } });
  const core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  await createPod(cluster, { name: 'finished' });
  await podWhen(cluster, 'finished', 'succeeded', (p) => p.status?.phase === 'Succeeded');
  await createPod(cluster, { name: 'unplaceable', container: { resources: { requests: { cpu: '2' } } } });
  for (const name of ['finished', 'unplaceable']) {
    const answer = await core.deleteNamespacedPod({ namespace: 'default', name });
    expect(answer.metadata?.name).toBe(name);
    expect(podNamed(cluster, name)).toBeUndefined();
  }
});

test('closing the cluster kills the container processes', async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01 });
  const core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  await createPod(cluster, { name: 'orphan', container: { command: ['sh', '-c', 'echo $$$$; exec sleep 30'] } });
  const pid = await pidOf(core, 'orphan');
  await cluster.close();
  cluster = undefined;
  expect(alive(pid)).toBe(false);
});
