import { PassThrough } from 'node:stream';
import { ApiException, CoreV1Api, Log } from '@kubernetes/client-node';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startSimulatedCluster, type ContainerScript, type SimulatedCluster } from '../../src/sim/index.js';
import { behaviour, createPod, podWhen, waitingReason } from '../helpers/sim-pods.js';
import { waitUntil } from '../helpers/wait.js';

let cluster: SimulatedCluster;
let core: CoreV1Api;

// Containers print `run <restartCount>` first, then what their behaviour annotation says.
const script: ContainerScript = (pod, container, context) => {
  const annotations = pod.metadata.annotations ?? {};
  const raw = annotations[`sim.k8s-jobs.io/behaviour-${container.name}`] ?? annotations['sim.k8s-jobs.io/behaviour'];
  const chosen = raw ? (JSON.parse(raw) as { logs?: unknown[]; durationMs?: number }) : {};
  return {
    ...chosen,
    durationMs: chosen.durationMs === -1 ? Infinity : chosen.durationMs,
    logs: [`run ${context.restartCount}`, ...((chosen.logs ?? []) as string[])],
  };
};

beforeAll(async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { runtime: 'scripted', script } });
  core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  await createPod(cluster, {
    name: 'lines',
    annotations: behaviour({ logs: ['one', 'two', 'three', { line: 'oops', stream: 'stderr' }] }),
  });
  await podWhen(cluster, 'lines', 'succeeded', (p) => p.status?.phase === 'Succeeded');
});
afterAll(async () => cluster.close());

/** A log request's status, content type and body, read with fetch (client-node drops error bodies). */
async function rawLog(pod: string, query = ''): Promise<{ status: number; type: string | null; text: string }> {
  const response = await fetch(`${cluster.url}/api/v1/namespaces/default/pods/${pod}/log${query ? `?${query}` : ''}`);
  return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
}

async function statusOf(pod: string, query = ''): Promise<{ code: number; reason: string; message: string }> {
  const { status, text } = await rawLog(pod, query);
  const body = JSON.parse(text) as { code: number; reason: string; message: string; kind: string };
  expect(body.kind).toBe('Status');
  expect(body.code).toBe(status);
  return { code: body.code, reason: body.reason, message: body.message };
}

test('the log of a finished container is its stdout and stderr lines, as text/plain', async () => {
  const { status, type, text } = await rawLog('lines');
  expect(status).toBe(200);
  expect(type).toBe('text/plain');
  expect(text).toBe('run 0\none\ntwo\nthree\noops\n');
  expect(await core.readNamespacedPodLog({ namespace: 'default', name: 'lines' })).toBe(text);
});

test('tailLines keeps the last lines; tailLines=0 none', async () => {
  expect(await core.readNamespacedPodLog({ namespace: 'default', name: 'lines', tailLines: 2 })).toBe('three\noops\n');
  expect((await rawLog('lines', 'tailLines=0')).text).toBe('');
});

test('limitBytes cuts the output after that many bytes, inside a line if need be', async () => {
  expect((await rawLog('lines', 'limitBytes=8')).text).toBe('run 0\non');
  expect((await rawLog('lines', 'tailLines=1&limitBytes=3')).text).toBe('oop');
});

test('timestamps prefixes every line with its RFC 3339 time in nanoseconds and a space', async () => {
  const text = await core.readNamespacedPodLog({ namespace: 'default', name: 'lines', timestamps: true });
  const lines = text.trimEnd().split('\n');
  expect(lines).toHaveLength(5);
  for (const line of lines)
    expect(line).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z (run 0|one|two|three|oops)$/);
});

test('sinceSeconds and sinceTime leave out older lines', async () => {
  await createPod(cluster, {
    name: 'timed',
    annotations: behaviour({ logs: ['early', { line: 'late', afterMs: 1100 }], durationMs: -1 }),
  });
  await waitUntil(async () => (await rawLog('timed')).text.includes('late'), 'the late line');
  expect(await core.readNamespacedPodLog({ namespace: 'default', name: 'timed', sinceSeconds: 1 })).toBe('late\n');
  const stamped = await core.readNamespacedPodLog({ namespace: 'default', name: 'timed', timestamps: true });
  const lateAt = stamped
    .split('\n')
    .find((l) => l.endsWith(' late'))!
    .split(' ')[0]!;
  // sinceTime travels with second precision: the second the late line was written in.
  const sinceTime = `${lateAt.slice(0, 19)}Z`;
  expect((await rawLog('timed', `sinceTime=${encodeURIComponent(sinceTime)}`)).text).toBe('late\n');
});

test('follow streams lines as they are written and ends when the container exits (client-node Log)', async () => {
  await createPod(cluster, {
    name: 'follower',
    annotations: behaviour({
      logs: [
        { line: 'a', afterMs: 100 },
        { line: 'b', afterMs: 200 },
      ],
      durationMs: 300,
    }),
  });
  await podWhen(cluster, 'follower', 'running', (p) => p.status?.phase === 'Running');
  const out = new PassThrough();
  let received = '';
  out.on('data', (chunk: Buffer) => (received += chunk.toString()));
  const ended = new Promise<void>((resolve) => out.on('finish', resolve));
  await new Log(cluster.kubeConfig).log('default', 'follower', 'main', out, { follow: true });
  await ended;
  expect(received).toBe('run 0\na\nb\n');
  const pod = await podWhen(cluster, 'follower', 'done', (p) => p.status?.phase === 'Succeeded');
  expect(pod.status?.phase).toBe('Succeeded');
});

test('a follow the client aborts stops without ending the container', async () => {
  await createPod(cluster, { name: 'endless', annotations: behaviour({ durationMs: -1 }) });
  await podWhen(cluster, 'endless', 'running', (p) => p.status?.phase === 'Running');
  const out = new PassThrough();
  let received = '';
  out.on('data', (chunk: Buffer) => (received += chunk.toString()));
  const controller = await new Log(cluster.kubeConfig).log('default', 'endless', 'main', out, { follow: true });
  await waitUntil(() => received === 'run 0\n', 'first line');
  controller.abort();
  expect((await rawLog('endless', 'follow=false')).text).toBe('run 0\n');
  expect((await podWhen(cluster, 'endless', 'running', (p) => p.status?.phase === 'Running')).status?.phase).toBe(
    'Running',
  );
});

test('previous reads the instance before the last restart; a restarting container shows its last instance', async () => {
  await createPod(cluster, {
    name: 'restarts',
    annotations: behaviour({ exitCode: 1, logs: ['failing'] }),
    spec: { restartPolicy: 'OnFailure' },
  });
  await podWhen(cluster, 'restarts', 'crash looping', (p) => waitingReason(p) === 'CrashLoopBackOff');
  const current = await core.readNamespacedPodLog({ namespace: 'default', name: 'restarts' });
  const previous = await core.readNamespacedPodLog({ namespace: 'default', name: 'restarts', previous: true });
  // In CrashLoopBackOff the last terminated instance is both "current" and "previous".
  expect(current).toMatch(/^run [1-9]\d*\nfailing\n$/);
  expect(previous).toBe(current);
  expect(await statusOf('lines', 'previous=true')).toEqual({
    code: 400,
    reason: 'BadRequest',
    message: 'previous terminated container "main" in pod "lines" not found',
  });
});

test('pods with several containers need the container parameter', async () => {
  await createPod(cluster, {
    name: 'multi',
    spec: {
      initContainers: [{ name: 'setup', image: 'busybox:1.36' }],
      containers: [
        { name: 'app', image: 'busybox:1.36' },
        { name: 'sidecar', image: 'busybox:1.36' },
      ],
    },
  });
  await podWhen(cluster, 'multi', 'succeeded', (p) => p.status?.phase === 'Succeeded');
  expect(await statusOf('multi')).toEqual({
    code: 400,
    reason: 'BadRequest',
    message: 'a container name must be specified for pod multi, choose one of: [setup app sidecar]',
  });
  expect(await statusOf('multi', 'container=nope')).toEqual({
    code: 400,
    reason: 'BadRequest',
    message: 'container nope is not valid for pod multi',
  });
  expect(await core.readNamespacedPodLog({ namespace: 'default', name: 'multi', container: 'sidecar' })).toBe(
    'run 0\n',
  );
  expect(await core.readNamespacedPodLog({ namespace: 'default', name: 'multi', container: 'setup' })).toBe('run 0\n');
});

test('error ladder: invalid options are 422 (even for a missing pod), a missing pod 404', async () => {
  const invalid = (causes: string) => ({
    code: 422,
    reason: 'Invalid',
    message: `PodLogOptions "lines" is invalid: ${causes}`,
  });
  expect(await statusOf('lines', 'tailLines=-1')).toEqual(
    invalid('tailLines: Invalid value: -1: must be greater than or equal to 0'),
  );
  expect(await statusOf('lines', 'limitBytes=0')).toEqual(
    invalid('limitBytes: Invalid value: 0: must be greater than 0'),
  );
  expect(await statusOf('lines', 'sinceSeconds=0')).toEqual(
    invalid('sinceSeconds: Invalid value: 0: must be greater than 0'),
  );
  expect(await statusOf('lines', 'sinceSeconds=5&sinceTime=2026-01-01T00:00:00Z')).toEqual(
    invalid(': Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified'),
  );
  expect((await statusOf('ghost', 'tailLines=-1')).code).toBe(422);
  expect(await statusOf('ghost')).toEqual({ code: 404, reason: 'NotFound', message: 'pods "ghost" not found' });
  expect((await statusOf('lines', 'tailLines=x')).code).toBe(400);
  await expect(core.readNamespacedPodLog({ namespace: 'default', name: 'ghost' })).rejects.toMatchObject({ code: 404 });
});

test("error ladder: a waiting container is 400 with the kubelet's text for its reason", async () => {
  await createPod(cluster, { name: 'creating', annotations: behaviour({ neverStart: true }) });
  await createPod(cluster, { name: 'no-image', container: { image: 'app:does-not-exist' } });
  await createPod(cluster, {
    name: 'no-secret',
    container: { env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'absent', key: 'x' } } }] },
  });
  await podWhen(cluster, 'creating', 'sandbox', (p) =>
    p.status?.conditions?.some(
      (c: { type: string; status: string }) => c.type === 'PodReadyToStartContainers' && c.status === 'True',
    ),
  );
  expect(await statusOf('creating')).toEqual({
    code: 400,
    reason: 'BadRequest',
    message: 'container "main" in pod "creating" is waiting to start: ContainerCreating',
  });
  // The pull is retried between back-offs, so ask until the answer is the back-off's.
  const backingOff = 'container "main" in pod "no-image" is waiting to start: trying and failing to pull image';
  await waitUntil(async () => (await statusOf('no-image')).message === backingOff, 'the ImagePullBackOff answer');
  await podWhen(cluster, 'no-secret', 'config error', (p) => waitingReason(p) === 'CreateContainerConfigError');
  expect((await statusOf('no-secret')).message).toBe(
    'container "main" in pod "no-secret" is waiting to start: CreateContainerConfigError',
  );
  // client-node's Log keeps only the status code of a non-200 answer.
  const error: unknown = await new Log(cluster.kubeConfig)
    .log('default', 'creating', 'main', new PassThrough())
    .catch((err: unknown) => err);
  expect(error).toBeInstanceOf(ApiException);
  expect((error as ApiException<unknown>).code).toBe(400);
});

test('error ladder: "image can\'t be pulled" while the pull has just failed', async () => {
  const slow = await startSimulatedCluster({
    timeScale: 1,
    kubelet: { runtime: 'scripted', pullLatencyMs: 0, startLatencyMs: 0 },
  });
  try {
    await createPod(slow, { name: 'pull-failed', container: { image: 'app:does-not-exist' } });
    // At real time scale the ErrImagePull state lasts a second before the back-off shows.
    await podWhen(slow, 'pull-failed', 'ErrImagePull', (p) => waitingReason(p) === 'ErrImagePull');
    const response = await fetch(`${slow.url}/api/v1/namespaces/default/pods/pull-failed/log`);
    expect(((await response.json()) as { message: string }).message).toBe(
      'container "main" in pod "pull-failed" is waiting to start: image can\'t be pulled',
    );
  } finally {
    await slow.close();
  }
});

test('error ladder: an unscheduled pod has an empty log (200); a pod bound to an unknown node, 404 for the node', async () => {
  await createPod(cluster, { name: 'unplaceable', container: { resources: { requests: { cpu: '64' } } } });
  await podWhen(cluster, 'unplaceable', 'unschedulable', (p) =>
    p.status?.conditions?.some((c: { reason?: string }) => c.reason === 'Unschedulable'),
  );
  expect(await rawLog('unplaceable')).toEqual({ status: 200, type: 'text/plain', text: '' });
  await core.createNamespacedPod({
    namespace: 'default',
    body: {
      metadata: { name: 'elsewhere' },
      spec: { nodeName: 'other-node', containers: [{ name: 'main', image: 'busybox:1.36' }] },
    },
  });
  expect(await statusOf('elsewhere')).toEqual({
    code: 404,
    reason: 'NotFound',
    message: 'nodes "other-node" not found',
  });
});
